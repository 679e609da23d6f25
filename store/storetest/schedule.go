package storetest

import (
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// testStopRosterNotifiesAndCancels: 停诊 closes the slots, cancels their
// bookings, frees the places and queues a critical change notice per patient.
func testStopRosterNotifiesAndCancels(t *testing.T) {
	e := newEnv(t)
	c1, _ := e.course(e.plain, 3)
	c2, _ := e.course(e.plain, 3)
	ro, slots, err := e.db.CreateRoster(e.ctx, model.NewRoster{DeptID: e.dept.ID, StaffID: e.staff.ID, RoomID: e.room.ID,
		Day: model.DayOf(e.clock.Now()), Shift: "pm", Start: "14:00", End: "16:00", SlotMinutes: 30, Capacity: 2})
	e.must(err)
	if len(slots) != 4 {
		t.Fatalf("14:00–16:00 in 30-minute slots: %d", len(slots))
	}
	a1, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c1.ID, SlotID: slots[0].ID, Channel: model.ChannelWechat})
	e.must(err)
	a2, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c2.ID, SlotID: slots[3].ID, Channel: model.ChannelPhone})
	e.must(err)
	_, err = e.db.StopRoster(e.ctx, ro.ID, "设备故障")
	e.must(err)
	for _, id := range []int64{a1.ID, a2.ID} {
		a, err := e.db.Appointment(e.ctx, id)
		e.must(err)
		if a.Status != model.ApptCancelled || a.CancelReason != "停诊: 设备故障" {
			t.Fatalf("appointment after 停诊: %+v", a)
		}
	}
	for _, s := range slots {
		got, err := e.db.Slot(e.ctx, s.ID)
		e.must(err)
		if got.Status != model.SlotClosed || got.Booked != 0 {
			t.Fatalf("slot after 停诊: %+v", got)
		}
	}
	var notices int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM notification WHERE kind = 'change' AND critical = 1").Scan(&notices))
	if notices != 2 {
		t.Fatalf("%d change notices", notices)
	}
	_, err = e.db.StopRoster(e.ctx, ro.ID, "again")
	wantRule(t, err, "roster.stopped->stopped")
}

// testNoShowBlacklist: the third no-show within 90 days bars electronic
// self-booking for 30 days; the counter desk can still book.
func testNoShowBlacklist(t *testing.T) {
	e := newEnv(t)
	c, _ := e.course(e.plain, 10)
	for i := 0; i < 3; i++ {
		slots := e.slots(1)
		a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelWechat})
		e.must(err)
		_, err = e.db.MarkNoShow(e.ctx, a.ID)
		wantRule(t, err, "appointment.not_due") // not before the appointment time
		e.clock.Set(a.PlannedAt.Add(time.Hour))
		_, err = e.db.MarkNoShow(e.ctx, a.ID)
		e.must(err)
		e.clock.Set(e.clock.Now().AddDate(0, 0, 1).Add(-3 * time.Hour)) // next morning
	}
	slots := e.slots(1)
	_, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelWechat})
	wantRule(t, err, "patient.blacklisted")
	if _, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelOnsite}); err != nil {
		t.Fatalf("counter booking of a blacklisted patient: %v", err)
	}
}

// testRemindersOncePerAppointment: reminders are queued for the day's booked
// appointments, and a second run queues nothing new.
func testRemindersOncePerAppointment(t *testing.T) {
	e := newEnv(t)
	c, _ := e.course(e.plain, 5)
	slots := e.slots(1)
	_, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[1].ID, Channel: model.ChannelWechat})
	e.must(err)
	day := model.DayOf(e.clock.Now())
	n, err := e.db.QueueReminders(e.ctx, e.inst.ID, day)
	e.must(err)
	again, err := e.db.QueueReminders(e.ctx, e.inst.ID, day)
	e.must(err)
	other, err := e.db.QueueReminders(e.ctx, e.inst.ID, model.DayOf(e.clock.Now().AddDate(0, 0, 1)))
	e.must(err)
	if n != 1 || again != 0 || other != 0 {
		t.Fatalf("reminders: first %d, again %d, next day %d", n, again, other)
	}
	_, err = e.db.QueueReminders(e.ctx, e.inst.ID, "2026-02-30")
	if model.ErrorField(err) != "day" {
		t.Fatalf("bad day: %v", err)
	}
	// A channel adapter's failure is recorded and the notice can be retried.
	ns, err := e.db.QueuedNotifications(e.ctx, 10)
	e.must(err)
	nt, err := e.db.MarkNotification(e.ctx, ns[0].ID, false, "用户未关注公众号")
	e.must(err)
	if nt.Status != model.NotifyFailed || nt.Attempts != 1 || nt.LastError == "" {
		t.Fatalf("failed notice %+v", nt)
	}
	nt, err = e.db.MarkNotification(e.ctx, ns[0].ID, true, "")
	e.must(err)
	if nt.Status != model.NotifySent || nt.Attempts != 2 || nt.SentAt == nil {
		t.Fatalf("sent notice %+v", nt)
	}
	_, err = e.db.MarkNotification(e.ctx, ns[0].ID, true, "")
	wantRule(t, err, "notification.sent->sent")
}

// testAbortAndRevokedConsent: an aborted session charges nothing and puts the
// patient back in the queue; a revoked consent stops the next start.
func testAbortAndRevokedConsent(t *testing.T) {
	e := newEnv(t)
	c, o := e.course(e.laser, 3)
	cs, err := e.db.SignConsent(e.ctx, model.NewConsent{CourseID: c.ID, TemplateID: e.consentText.ID, SignerName: "家属", SignerRelation: "spouse", Signature: signature, WitnessID: e.staff.ID})
	e.must(err)
	if cs.ContentHash == "" || cs.SignatureSHA256 == "" || cs.TemplateVersion != "KF009@v1" {
		t.Fatalf("consent %+v", cs)
	}
	tk, err := e.db.WalkIn(e.ctx, c.ID)
	e.must(err)
	s, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
	e.must(err)
	_, err = e.db.AbortSession(e.ctx, s.ID, "")
	if model.ErrorField(err) != "reason" {
		t.Fatalf("abort without reason: %v", err)
	}
	s, err = e.db.AbortSession(e.ctx, s.ID, "患者头晕")
	e.must(err)
	got, err := e.db.Order(e.ctx, o.ID)
	e.must(err)
	if s.Status != model.SessionAborted || s.ChargeConfirmed || got.UsedQuantity != 0 {
		t.Fatalf("aborted session %+v order used %d", s, got.UsedQuantity)
	}
	_, err = e.db.RevokeConsent(e.ctx, cs.ID)
	e.must(err)
	_, err = e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
	wantRule(t, err, "consent.required")
}
