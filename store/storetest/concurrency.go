package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// race runs n calls at once and returns their errors.
func race(n int, call func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			errs[i] = call(i)
		}(i)
	}
	close(start)
	wg.Wait()
	return errs
}

func tally(t *testing.T, errs []error, rules ...string) (ok int) {
	t.Helper()
	allowed := map[string]bool{}
	for _, r := range rules {
		allowed[r] = true
	}
	for _, err := range errs {
		if err == nil {
			ok++
		} else if model.ErrorCode(err) != model.ECONFLICT || !allowed[model.ErrorRule(err)] {
			t.Fatalf("want a typed conflict %v, got %v", rules, err)
		}
	}
	return ok
}

// testSlotCapacityUnderConcurrency: many patients booking the last places of
// a slot at once get exactly capacity successes.
func testSlotCapacityUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	const capacity, patients = 3, 24
	courses := make([]*model.Course, patients)
	for i := range courses {
		courses[i], _ = e.course(e.plain, 5)
	}
	slot := e.slots(capacity)[2]
	errs := race(patients, func(i int) error {
		_, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: courses[i].ID, SlotID: slot.ID, Channel: model.ChannelWechat})
		return err
	})
	if ok := tally(t, errs, "slot.full"); ok != capacity {
		t.Fatalf("%d bookings succeeded, capacity %d", ok, capacity)
	}
	s, err := e.db.Slot(e.ctx, slot.ID)
	e.must(err)
	var appts int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM appointment WHERE slot_id = ?", slot.ID).Scan(&appts))
	if s.Booked != capacity || appts != capacity {
		t.Fatalf("slot booked %d, appointments %d", s.Booked, appts)
	}
	var receipts int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(DISTINCT receipt_no) FROM appointment").Scan(&receipts))
	if receipts != appts {
		t.Errorf("%d appointments share %d receipt numbers", appts, receipts)
	}
	// Concurrent bookings may share a group commit, but each keeps its own
	// transaction id: on SQLite the seq of its first event; on PostgreSQL a
	// value of the same sequence taken before it.
	cmp := "="
	if onPostgres {
		cmp = "<"
	}
	var txs, firsts int
	e.must(e.db.QueryRowContext(e.ctx, `SELECT COUNT(DISTINCT tx_id), COUNT(CASE WHEN tx_id `+cmp+` (SELECT MIN(seq) FROM cdc_outbox o2 WHERE o2.tx_id = o.tx_id) THEN 1 END)
FROM cdc_outbox o WHERE entity = 'appointment'`).Scan(&txs, &firsts))
	if txs != capacity || firsts != capacity {
		t.Fatalf("appointment events in %d transactions, %d with tx_id = first seq", txs, firsts)
	}
}

// testDoubleCheckInAndExecution: the same appointment checked in, and the same
// ticket started, from many clients at once succeed exactly once.
func testDoubleCheckInAndExecution(t *testing.T) {
	e := newEnv(t)
	c, _ := e.course(e.plain, 5)
	slot := e.slots(4)[0]
	a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slot.ID, Channel: model.ChannelPad})
	e.must(err)
	e.clock.Set(slot.StartAt.Add(-5 * time.Minute))
	tickets := make([]*model.QueueTicket, 10)
	errs := race(10, func(i int) error {
		var err error
		tickets[i], err = e.db.CheckIn(e.ctx, a.ID)
		return err
	})
	if ok := tally(t, errs, "appointment.checked_in->checked_in"); ok != 1 {
		t.Fatalf("%d check-ins succeeded", ok)
	}
	tk := winner(tickets)
	sessions := make([]*model.Session, 10)
	errs = race(10, func(i int) error {
		var err error
		sessions[i], err = e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
		return err
	})
	if ok := tally(t, errs, "queue_ticket.in_treatment->in_treatment"); ok != 1 {
		t.Fatalf("%d starts succeeded", ok)
	}
	s := winner(sessions)
	errs = race(10, func(i int) error {
		_, _, err := e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s.ID, Units: 1, RecordContent: "{}"})
		return err
	})
	if ok := tally(t, errs, "session.completed->completed"); ok != 1 {
		t.Fatalf("%d completions succeeded", ok)
	}
	var n, used int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM treatment_session").Scan(&n))
	e.must(e.db.QueryRowContext(e.ctx, "SELECT used_quantity FROM his_order").Scan(&used))
	if n != 1 || used != 1 {
		t.Fatalf("sessions %d, charged %d", n, used)
	}
}

// winner returns the one result of a race that succeeded.
func winner[T any](results []*T) *T {
	for _, r := range results {
		if r != nil {
			return r
		}
	}
	return nil
}
