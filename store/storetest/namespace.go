package storetest

import (
	"context"
	"testing"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// A core with a namespace gives out every entity id and every outbox seq in
// it, keeps it when reopened, and refuses to change it once it holds data.
func testNamespacePlacesIDsAndSeqs(t *testing.T) {
	ctx := context.Background()
	where := coreLocation(t)
	db, err := store.Open(ctx, where, store.Options{FilesDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetNamespace(ctx, 0); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("namespace 0: want invalid, got %v", err)
	}
	if err := db.SetNamespace(ctx, store.MaxNamespace+1); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("namespace over the maximum: want invalid, got %v", err)
	}
	const ns = 7
	if err := db.SetNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Reopened, the core still has it, and a lifecycle draws from it.
	e := reopenEnv(t, where)
	if got := e.db.Namespace(); got != ns {
		t.Fatalf("namespace after reopening: %d, want %d", got, ns)
	}
	c, _ := e.course(e.plain, 3)
	slots := e.slots(2)
	if _, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: "onsite"}); err != nil {
		t.Fatal(err)
	}
	lo, hi := int64(ns)<<store.NamespaceBits, int64(ns+1)<<store.NamespaceBits
	events, err := e.db.ReadOutbox(ctx, 0, 100000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 10 {
		t.Fatalf("only %d events", len(events))
	}
	for _, ev := range events {
		for what, v := range map[string]int64{"seq": ev.Seq, "entity_id": ev.EntityID, "tx_id": ev.TxID, "institution_id": ev.InstitutionID} {
			if v <= lo || v >= hi {
				t.Fatalf("%s %s=%d is outside namespace %d [%d, %d)", ev.Entity, what, v, ns, lo, hi)
			}
		}
		if store.NamespaceOf(ev.Seq) != ns {
			t.Fatalf("NamespaceOf(%d) = %d", ev.Seq, store.NamespaceOf(ev.Seq))
		}
	}
	if head, _ := e.db.OutboxHead(ctx); head != events[len(events)-1].Seq {
		t.Fatalf("outbox head %d, last event %d", head, events[len(events)-1].Seq)
	}
	// Second ids of a table follow the first.
	if e.otherDept.ID != e.dept.ID+1 {
		t.Fatalf("departments %d then %d: the second does not follow the first", e.dept.ID, e.otherDept.ID)
	}
	err = e.db.SetNamespace(ctx, ns+1)
	if model.ErrorRule(err) != "namespace.not_empty" {
		t.Fatalf("changing the namespace of a core with data: want namespace.not_empty, got %v", err)
	}
	if err := e.db.SetNamespace(ctx, ns); err != nil {
		t.Fatalf("setting the same namespace again: %v", err)
	}
}
