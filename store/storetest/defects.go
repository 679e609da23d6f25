package storetest

import (
	"fmt"
	"testing"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// testUnplannedAppointmentDefect: the generator's one door for an
// appointment under a project its plan does not prescribe changes that
// project alone, in one transaction with its outbox event, and refuses a
// value that would not spoil anything (the planned project itself, or no
// project) without writing.
func testUnplannedAppointmentDefect(t *testing.T) {
	e := newEnv(t)
	c, _ := e.course(e.plain, 5)
	a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: e.slots(4)[0].ID, Channel: model.ChannelPad})
	e.must(err)
	before := e.snapshot()
	for _, bad := range []string{fmt.Sprint(e.plain.ID), "", "x", "999999"} {
		if err := e.db.InjectDefect(e.ctx, store.DefectApptUnplanned, a.ID, bad); err == nil || model.ErrorCode(err) == "" {
			t.Errorf("value %q: want a refusal with a code, got %v", bad, err)
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("a refused defect wrote: %+v → %+v", before, after)
	}
	e.must(e.db.InjectDefect(e.ctx, store.DefectApptUnplanned, a.ID, fmt.Sprint(e.laser.ID)))
	var project, course int64
	e.must(e.db.QueryRowContext(e.ctx, "SELECT project_id, course_id FROM appointment WHERE id = ?", a.ID).Scan(&project, &course))
	if project != e.laser.ID || course != c.ID {
		t.Fatalf("appointment now project %d course %d, want %d and %d", project, course, e.laser.ID, c.ID)
	}
	if after := e.snapshot(); after.outbox != before.outbox+1 {
		t.Fatalf("outbox %d → %d, want one event", before.outbox, after.outbox)
	}
}
