package storetest

import (
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// testCloseOut: the day's close-out, on an injected clock. A booking is a
// no-show only once its slot's end plus the project's grace has passed, its
// place is released and the patient's count grows; a ticket never started
// closes on a later day (its check-in with it); a session in progress
// overnight is flagged, not completed; a second pass changes nothing; and
// cancelling or moving after the start (or, for the patient, within the
// cut-off) is refused with the rule named.
func testCloseOut(t *testing.T) {
	e := newEnv(t)
	slots := e.slots(1) // today 08:00–11:00 in 30-minute slots, day0 07:30
	book := func(slot *model.Slot) (*model.Course, *model.Appointment) {
		t.Helper()
		c, _ := e.course(e.plain, 3)
		a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slot.ID, Channel: model.ChannelPhone})
		e.must(err)
		return c, a
	}
	_, absent := book(slots[0])       // 08:00, never comes
	_, waited := book(slots[1])       // 08:30, checks in, never called
	_, treated := book(slots[2])      // 09:00, treatment left in progress
	_, late := book(slots[5])         // 10:30, never comes
	walker, _ := e.course(e.plain, 3) // walk-in, waits, leaves unseen
	_, moved := book(slots[4])        // 10:00, the patient tries to move it on the phone

	e.clock.Set(slots[1].StartAt.Add(-5 * time.Minute))
	_, err := e.db.CheckIn(e.ctx, waited.ID)
	e.must(err)
	e.clock.Set(slots[2].StartAt.Add(-5 * time.Minute))
	tk, err := e.db.CheckIn(e.ctx, treated.ID)
	e.must(err)
	session, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
	e.must(err)
	_, err = e.db.WalkIn(e.ctx, walker.ID)
	e.must(err)

	// 09:05: the 08:00 slot ended at 08:30, the grace runs to 09:00.
	e.clock.Set(slots[0].EndAt.Add(e.plain.NoShowGrace() - time.Minute))
	res, err := e.db.CloseOut(e.ctx, 0, 0)
	e.must(err)
	if res.Changed() {
		t.Fatalf("close-out inside the grace changed %+v", res)
	}
	_, err = e.db.CancelAppointment(e.ctx, absent.ID, "患者来电取消")
	wantRule(t, err, "appointment.started")
	_, err = e.db.RescheduleAppointment(e.ctx, absent.ID, slots[5].ID)
	wantRule(t, err, "appointment.started")
	patient := model.WithActor(e.ctx, model.Actor{UserID: 99, Role: model.RolePatient, PatientID: moved.PatientID, InstitutionID: e.inst.ID})
	_, err = e.db.CancelAppointment(patient, moved.ID, "有事")
	wantRule(t, err, "appointment.self_cutoff")
	if _, err := e.db.CancelAppointment(e.ctx, moved.ID, "患者来电取消"); err != nil {
		t.Fatalf("the desk cancels before the start, inside the patient's cut-off: %v", err)
	}

	e.clock.Set(slots[0].EndAt.Add(e.plain.NoShowGrace()))
	res, err = e.db.CloseOut(e.ctx, 0, 0)
	e.must(err)
	if res != (model.CloseOutResult{NoShows: 1}) {
		t.Fatalf("close-out at the end of the 08:00 slot's grace: %+v", res)
	}
	a, err := e.db.Appointment(e.ctx, absent.ID)
	e.must(err)
	if a.Status != model.ApptNoShow {
		t.Fatalf("the absent patient's booking: %s", a.Status)
	}
	var booked, noShows int64
	e.must(e.db.QueryRowContext(e.ctx, "SELECT booked FROM slot WHERE id = ?", slots[0].ID).Scan(&booked))
	e.must(e.db.QueryRowContext(e.ctx, "SELECT no_show_count FROM patient WHERE id = ?", absent.PatientID).Scan(&noShows))
	if booked != 0 || noShows != 1 {
		t.Fatalf("after the no-show: slot booked %d, patient's no-shows %d", booked, noShows)
	}

	// Three days later (the service was down): everything left closes at once.
	e.clock.Set(day0.AddDate(0, 0, 3).Add(2 * time.Hour))
	res, err = e.db.CloseOut(e.ctx, 0, 0)
	e.must(err)
	if want := (model.CloseOutResult{NoShows: 1, TicketsClosed: 2, CheckinsClosed: 1, SessionsFlagged: 1}); res != want {
		t.Fatalf("close-out three days later: %+v, want %+v", res, want)
	}
	for id, want := range map[int64]string{late.ID: model.ApptNoShow, waited.ID: model.ApptCancelled, treated.ID: model.ApptCheckedIn} {
		a, err := e.db.Appointment(e.ctx, id)
		e.must(err)
		if a.Status != want {
			t.Fatalf("appointment %d after the close-out: %s, want %s", id, a.Status, want)
		}
	}
	var open int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM queue_ticket WHERE status IN ('waiting', 'called')").Scan(&open))
	var status, reason string
	var flagged *string
	e.must(e.db.QueryRowContext(e.ctx, "SELECT status, flagged_at, flag_reason FROM treatment_session WHERE id = ?", session.ID).Scan(&status, &flagged, &reason))
	if open != 0 || status != model.SessionInProgress || flagged == nil || reason == "" {
		t.Fatalf("after the close-out: %d open tickets; session %s flagged %v %q", open, status, flagged, reason)
	}
	var closedBy int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM status_history WHERE entity = 'appointment' AND to_status = 'no_show' AND reason LIKE '日终关闭%'").Scan(&closedBy))
	if closedBy != 2 {
		t.Fatalf("%d no-shows name the close-out in the history", closedBy)
	}
	_, err = e.db.CancelAppointment(e.ctx, treated.ID, "补录取消")
	wantRule(t, err, "appointment.started")

	before := e.snapshot()
	res, err = e.db.CloseOut(e.ctx, 0, 0)
	e.must(err)
	if res.Changed() || e.snapshot() != before {
		t.Fatalf("a second pass changed something: %+v", res)
	}
}

// testCloseOutByDepartment: a department's close-out leaves another's
// bookings alone (the parallel generator's workers each close their own).
func testCloseOutByDepartment(t *testing.T) {
	e := newEnv(t)
	slots := e.slots(1)
	c, _ := e.course(e.plain, 3)
	a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelPhone})
	e.must(err)
	e.clock.Set(slots[0].EndAt.Add(2 * time.Hour))
	res, err := e.db.CloseOut(e.ctx, e.inst.ID, e.otherDept.ID)
	e.must(err)
	if res.Changed() {
		t.Fatalf("another department's close-out changed %+v", res)
	}
	res, err = e.db.CloseOut(e.ctx, e.inst.ID, e.dept.ID)
	e.must(err)
	if res.NoShows != 1 {
		t.Fatalf("the department's own close-out: %+v", res)
	}
	got, err := e.db.Appointment(e.ctx, a.ID)
	e.must(err)
	if got.Status != model.ApptNoShow {
		t.Fatalf("booking after its department's close-out: %s", got.Status)
	}
}

// testSurveyStatePerVisit: the tablet's 满意度问卷已发送 is about this visit:
// a survey sent at the course's first session does not mark the next
// session's ticket, so the next survey can be sent from the tablet.
func testSurveyStatePerVisit(t *testing.T) {
	e := newEnv(t)
	c, _ := e.course(e.plain, 3)
	pad := model.WithActor(e.ctx, model.Actor{UserID: 7, Role: model.RoleClinician, StaffID: e.staff.ID, DeptID: e.dept.ID, InstitutionID: e.inst.ID})
	visit := func() bool {
		t.Helper()
		slots := e.slots(1)
		e.clock.Set(slots[0].StartAt.Add(-5 * time.Minute))
		a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelOnsite})
		e.must(err)
		_, err = e.db.CheckIn(e.ctx, a.ID)
		e.must(err)
		w, err := e.db.Workstation(pad)
		e.must(err)
		if len(w.Tickets) != 1 {
			t.Fatalf("%d tickets on the tablet", len(w.Tickets))
		}
		return w.Tickets[0].SurveySent
	}
	if visit() {
		t.Fatal("the first visit's ticket says a survey was sent")
	}
	_, err := e.db.SendSurvey(e.ctx, c.ID, "electronic")
	e.must(err)
	w, err := e.db.Workstation(pad)
	e.must(err)
	if !w.Tickets[0].SurveySent {
		t.Fatal("the survey just sent is not shown on its visit's ticket")
	}
	e.clock.Set(day0.AddDate(0, 0, 1).Add(-30 * time.Minute)) // the next morning, 07:00
	if visit() {
		t.Fatal("the next visit's ticket says sent: the course's next survey could never be sent from the tablet")
	}
}

// testComplaintFormAfterTreatment: the patient's page offers the complaint
// form for a department that treated them this morning, with no booking
// left and no survey sent, and no longer for one whose last treatment was
// more than 90 days ago.
func testComplaintFormAfterTreatment(t *testing.T) {
	e := newEnv(t)
	c, _ := e.course(e.plain, 1)
	slots := e.slots(1)
	a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelOnsite})
	e.must(err)
	e.clock.Set(slots[0].StartAt.Add(-5 * time.Minute))
	tk, err := e.db.CheckIn(e.ctx, a.ID)
	e.must(err)
	s, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
	e.must(err)
	_, _, err = e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s.ID, Units: 1, RecordContent: `{"note":"ok"}`})
	e.must(err)
	phone := model.WithActor(e.ctx, model.Actor{UserID: 5, Role: model.RolePatient, PatientID: c.PatientID, InstitutionID: e.inst.ID})
	depts := func() []int64 {
		t.Helper()
		h, err := e.db.PatientHome(phone)
		e.must(err)
		if len(h.Appointments) != 0 || len(h.Surveys) != 0 {
			t.Fatalf("the patient still has %d appointments and %d surveys", len(h.Appointments), len(h.Surveys))
		}
		for _, d := range h.ComplaintDepts {
			if h.Departments[d] == "" {
				t.Fatalf("department %d offered without its name", d)
			}
		}
		return h.ComplaintDepts
	}
	e.clock.Set(slots[0].EndAt.Add(time.Hour))
	if got := depts(); len(got) != 1 || got[0] != e.dept.ID {
		t.Fatalf("treated this morning: the complaint form offers %v, want [%d]", got, e.dept.ID)
	}
	e.clock.Set(slots[0].StartAt.AddDate(0, 0, 91))
	if got := depts(); len(got) != 0 {
		t.Fatalf("treated 91 days ago: the complaint form offers %v", got)
	}
}
