package duckdb

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
)

// TestLatestRowsOfABatch: the rows a fresh batch puts into cur_ are the
// highest version of each (institution, id) in it, whatever their order in
// the batch, and none for an id whose highest version is a delete.
func TestLatestRowsOfABatch(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)
	type ev struct {
		inst, id, version int64
		op                string
	}
	evs := []ev{
		{1, 10, 1, "c"}, // 0
		{1, 10, 3, "u"}, // 1: newest of 1/10
		{1, 10, 2, "u"}, // 2: arrives after 3, older
		{2, 10, 1, "c"}, // 3: the same id in another hospital
		{1, 11, 1, "c"}, // 4
		{1, 11, 2, "d"}, // 5: deleted
		{1, 12, 5, "u"}, // 6
	}
	bb := warehouse.NewBatchBuilder()
	for i, e := range evs {
		payload := `{"id":` + itoa(e.id) + `,"institution_id":` + itoa(e.inst) + `,"version":` + itoa(e.version) +
			`,"created_at":"2026-03-02T01:00:00.000Z","updated_at":"2026-03-02T01:00:00.000Z","mrn":"P` + itoa(e.id) + `","name":"患者"}`
		bb.Add(&model.ChangeEvent{Seq: int64(i + 1), Entity: "patient", EntityID: e.id, Op: e.op, Version: e.version,
			OccurredAt: t0, TxID: int64(i + 1), InstitutionID: e.inst, Payload: []byte(payload)})
	}
	b := bb.Build()
	defer b.Release()
	if len(b.DeadLetters) > 0 {
		t.Fatalf("dead letters: %+v", b.DeadLetters)
	}
	got := latestRows(warehouse.TableOf("patient"), b.Raw["patient"])
	if want := []int{1, 3, 6}; !slices.Equal(got, want) {
		t.Errorf("latest rows %v, want %v", got, want)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
