package etl_test

import (
	"context"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestCorrectionLeavesTheOldDay: a record signed late and then amended (its
// signature withdrawn) must leave the day it was signed on, although nothing
// in its new version points to that day.
func TestCorrectionLeavesTheOldDay(t *testing.T) {
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		ctx := context.Background()
		wh := e.Open(t)
		defer wh.Close()
		d0 := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC) // 10:00 in China
		signed := d0.Add(72 * time.Hour)
		ended := d0.Add(30 * time.Minute)
		signer := int64(5)
		sess := &model.Session{Meta: model.Meta{ID: 1, InstitutionID: 1, Version: 1, CreatedAt: d0, UpdatedAt: d0},
			State: model.State{Status: model.SessionCompleted}, CourseID: 1, PatientID: 9, DeptID: 1, ProjectID: 1, OrderID: 1,
			SeqNo: 2, PerformerID: 4, VisitType: model.VisitOutpatient, StartedAt: d0, EndedAt: &ended, Units: 1}
		rec := &model.Record{Meta: model.Meta{ID: 1, InstitutionID: 1, Version: 1, CreatedAt: d0, UpdatedAt: signed},
			State: model.State{Status: model.RecordSigned}, SessionID: 1, CourseID: 1, PatientID: 9, DeptID: 1, ProjectID: 1,
			TreatedAt: d0, DueAt: d0.Add(24 * time.Hour), SignerID: &signer, SignedAt: &signed, Signatures: 1}
		b := warehousetest.Build(warehousetest.Event(1, 1, model.OpCreate, sess), warehousetest.Event(2, 2, model.OpCreate, rec))
		if err := wh.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
		r := runner(wh)
		mustRun(t, r, etl.Options{Marts: []string{"workload"}})
		filed := func() int64 {
			return warehousetest.Count(t, wh, "SELECT count(*) FROM mart_workload WHERE records_filed > 0")
		}
		if n := filed(); n != 1 {
			t.Fatalf("%d rows with a filed record, want 1", n)
		}
		amended := d0.Add(100 * time.Hour)
		rec.Version, rec.Status, rec.SignedAt, rec.UpdatedAt = 2, model.RecordDraft, nil, amended
		b = warehousetest.Build(warehousetest.Event(3, 3, model.OpUpdate, rec))
		if err := wh.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
		res := mustRun(t, r, etl.Options{Marts: []string{"workload"}, Job: "incremental"})
		if res[0].Full || res[0].Days == 0 {
			t.Fatalf("want an incremental run, got %+v", res[0])
		}
		if n := filed(); n != 0 {
			t.Errorf("the withdrawn signature still counts on its old day (%d rows)", n)
		}
		if n := warehousetest.Count(t, wh, "SELECT sum(sessions) FROM mart_workload"); n != 1 {
			t.Errorf("sessions %d", n)
		}
	})
}
