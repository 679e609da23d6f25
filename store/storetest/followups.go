package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zhiliao/zhiliao/model"
)

// testFollowupsDueByDepartment: the due follow-ups of one department are
// that department's alone, and on PostgreSQL, read inside a write
// transaction, they are the only rows the read locks: another department's
// due follow-up stays free for its own writer (the parallel generator's
// workers, one per department, rely on it).
func testFollowupsDueByDepartment(t *testing.T) {
	e := newEnv(t)
	slots := e.slots(1)
	var courses []*model.Course
	for i := range 2 { // two one-session courses done on the same day
		c, _ := e.course(e.plain, 1)
		a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[i].ID, Channel: model.ChannelKiosk})
		e.must(err)
		e.clock.Set(slots[i].StartAt)
		tk, err := e.db.CheckIn(e.ctx, a.ID)
		e.must(err)
		s, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
		e.must(err)
		_, _, err = e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s.ID, Units: 1, RecordContent: `{"note":"ok"}`})
		e.must(err)
		courses = append(courses, c)
	}
	// The second course's follow-ups belong to the other department.
	raw := e.rawCore()
	if _, err := raw.Exec(fmt.Sprintf("UPDATE followup SET dept_id = %d WHERE course_id = %d", e.otherDept.ID, courses[1].ID)); err != nil {
		t.Fatal(err)
	}
	day := model.DayOf(e.clock.Now().AddDate(0, 0, 7))
	all, err := e.db.FollowupsDueIn(e.ctx, e.inst.ID, 0, day)
	e.must(err)
	own, err := e.db.FollowupsDueIn(e.ctx, e.inst.ID, e.dept.ID, day)
	e.must(err)
	if len(all) != 2 || len(own) != 1 || own[0].CourseID != courses[0].ID {
		t.Fatalf("due on %s: %d in all, %d of the department (want 2 and 1, course %d)", day, len(all), len(own), courses[0].ID)
	}
	if !onPostgres {
		return
	}
	var mine, theirs int64
	e.must(e.db.QueryRowContext(e.ctx, "SELECT id FROM followup WHERE course_id = ? AND due_date = ?", courses[0].ID, day).Scan(&mine))
	e.must(e.db.QueryRowContext(e.ctx, "SELECT id FROM followup WHERE course_id = ? AND due_date = ?", courses[1].ID, day).Scan(&theirs))
	locked := func(id int64) bool {
		t.Helper()
		_, err := raw.Exec(fmt.Sprintf("SELECT id FROM followup WHERE id = %d FOR UPDATE NOWAIT", id))
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55P03" { // lock_not_available
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	e.must(e.db.Batch(e.ctx, func(ctx context.Context) error {
		if _, err := e.db.FollowupsDueIn(ctx, e.inst.ID, e.dept.ID, day); err != nil {
			return err
		}
		if !locked(mine) || locked(theirs) {
			t.Errorf("inside the department's transaction: its follow-up locked %v, the other department's locked %v; want true, false", locked(mine), locked(theirs))
		}
		return nil
	}))
}

// rawCore is a connection to the core beside the store's, for what the
// services never do (reassigning rows, taking locks).
func (e *env) rawCore() *sql.DB {
	e.t.Helper()
	driver := "sqlite"
	if onPostgres {
		driver = "pgx"
	}
	raw, err := sql.Open(driver, e.db.Path)
	e.must(err)
	e.t.Cleanup(func() { raw.Close() })
	return raw
}
