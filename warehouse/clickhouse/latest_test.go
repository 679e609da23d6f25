package clickhouse_test

import (
	"context"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestLatestTablesBackfill: a warehouse written before the latest-version
// tables existed (raw only) gets them filled from raw when it is opened, and
// cur_ then shows each id's newest live version; later versions arriving out
// of order and a delete land in both.
func TestLatestTablesBackfill(t *testing.T) {
	e := warehousetest.ClickHouse(t)
	w := e.Open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	room := func(v int64, name string) *model.Room {
		return &model.Room{Meta: model.Meta{ID: 7, InstitutionID: 1, Version: v, CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(v) * time.Minute)},
			DeptID: 3, Code: "R1", Name: name, Beds: 2}
	}
	other := &model.Room{Meta: model.Meta{ID: 8, InstitutionID: 1, Version: 1, CreatedAt: t0, UpdatedAt: t0}, DeptID: 3, Code: "R2", Name: "二号", Beds: 1}
	if err := w.Append(ctx, warehousetest.Build(warehousetest.Event(1, 1, model.OpCreate, room(1, "一号")),
		warehousetest.Event(2, 2, model.OpUpdate, room(2, "一号甲")), warehousetest.Event(3, 3, model.OpCreate, other))); err != nil {
		t.Fatal(err)
	}
	// As a warehouse of the previous release: no latest_ table.
	if err := w.Exec(ctx, "DROP TABLE latest_room"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w = e.Open(t)
	defer w.Close()
	names := func() []string {
		var out []string
		for _, r := range warehousetest.Rows(t, w, "SELECT name FROM cur_room ORDER BY id") {
			out = append(out, r[0].(string))
		}
		return out
	}
	if got := names(); len(got) != 2 || got[0] != "一号甲" || got[1] != "二号" {
		t.Fatalf("after backfill cur_room = %v", got)
	}
	// Version 4 before version 3, then room 8 deleted.
	del := *other
	del.Version = 2
	if err := w.Append(ctx, warehousetest.Build(warehousetest.Event(4, 4, model.OpUpdate, room(4, "一号丙")),
		warehousetest.Event(5, 5, model.OpUpdate, room(3, "一号乙")), warehousetest.Event(6, 6, model.OpDelete, &del))); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 1 || got[0] != "一号丙" {
		t.Fatalf("cur_room = %v", got)
	}
	if n := warehousetest.Count(t, w, "SELECT count() FROM ver_room"); n != 6 {
		t.Errorf("ver_room keeps %d versions, want 6", n)
	}
}
