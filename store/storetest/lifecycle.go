package storetest

import (
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// testLifecycleWalk drives one laser course (consent and images required)
// from HIS order to archive and follow-up, asserting each step's state.
func testLifecycleWalk(t *testing.T) {
	e := newEnv(t)
	c, o := e.course(e.laser, 2)
	if c.Status != model.CourseActive || c.PlannedSessions != 2 {
		t.Fatalf("course %+v", c)
	}
	slots := e.slots(2)
	a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelWechat})
	e.must(err)
	if a.ReceiptNo == "" || a.Status != model.ApptBooked {
		t.Fatalf("appointment %+v", a)
	}
	e.clock.Set(slots[0].StartAt.Add(-10 * time.Minute))
	tk, err := e.db.CheckIn(e.ctx, a.ID)
	e.must(err)
	if tk.Number != 1 || tk.WalkIn {
		t.Fatalf("ticket %+v", tk)
	}
	_, err = e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
	wantRule(t, err, "consent.required")
	_, err = e.db.SignConsent(e.ctx, model.NewConsent{CourseID: c.ID, TemplateID: e.consentText.ID, SignerName: "王小明", SignerRelation: "self", Signature: signature, WitnessID: e.staff.ID})
	e.must(err)
	s, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
	e.must(err)
	_, _, err = e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s.ID, Units: 1, RecordContent: `{"sites":"面部"}`})
	wantRule(t, err, "images.required")
	for _, phase := range []string{"before", "after"} {
		img, err := e.db.AddImage(e.ctx, model.NewImage{SessionID: s.ID, Phase: phase, ContentType: "image/png", Data: []byte("img-" + phase), TakenBy: e.staff.ID})
		e.must(err)
		if data, err := e.db.ReadFile(img.Path, img.SHA256); err != nil || string(data) != "img-"+phase {
			t.Fatalf("image file: %q %v", data, err)
		}
	}
	e.clock.Add(20 * time.Minute)
	s, rec, err := e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s.ID, Units: 1, RecordContent: `{"sites":"面部"}`})
	e.must(err)
	if !s.ChargeConfirmed || s.ChargeFen != 28000 || rec.Status != model.RecordDraft || rec.ProjectCode != "KF009" {
		t.Fatalf("session %+v record %+v", s, rec)
	}
	got, err := e.db.Order(e.ctx, o.ID)
	e.must(err)
	if got.UsedQuantity != 1 {
		t.Fatalf("used quantity %d", got.UsedQuantity)
	}
	_, err = e.db.ArchiveCourse(e.ctx, c.ID)
	wantRule(t, err, "course.active")

	// Second session as a walk-in; the course then completes.
	tk2, err := e.db.WalkIn(e.ctx, c.ID)
	e.must(err)
	if !tk2.WalkIn || tk2.Number != 2 {
		t.Fatalf("walk-in ticket %+v", tk2)
	}
	s2, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk2.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
	e.must(err)
	for _, phase := range []string{"before", "after"} {
		_, err := e.db.AddImage(e.ctx, model.NewImage{SessionID: s2.ID, Phase: phase, ContentType: "image/png", Data: []byte("second-" + phase), TakenBy: e.staff.ID})
		e.must(err)
	}
	_, rec2, err := e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s2.ID, Units: 1, RecordContent: `{"sites":"面部"}`})
	e.must(err)
	_, err = e.db.ArchiveCourse(e.ctx, c.ID)
	wantRule(t, err, "record.unsigned")
	for _, r := range []int64{rec.ID, rec2.ID} {
		_, err := e.db.SignRecord(e.ctx, r, e.staff.ID)
		e.must(err)
	}
	c, err = e.db.ArchiveCourse(e.ctx, c.ID)
	e.must(err)
	if c.Status != model.CourseArchived {
		t.Fatalf("course %s", c.Status)
	}
	_, err = e.db.AmendRecord(e.ctx, rec.ID, `{"sites":"改"}`)
	wantRule(t, err, "record.archived_immutable")

	var followups int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM followup WHERE course_id = ? AND status = 'pending' AND day_offset = 7", c.ID).Scan(&followups))
	if followups != 1 {
		t.Fatalf("follow-ups from the plan: %d", followups)
	}
	var fid int64
	e.must(e.db.QueryRowContext(e.ctx, "SELECT id FROM followup WHERE course_id = ?", c.ID).Scan(&fid))
	if _, _, err := e.db.CompleteFollowup(e.ctx, fid, model.FollowupResult{DoneBy: e.staff.ID, Result: "恢复良好", Via: "letter"}); model.ErrorField(err) != "via" {
		t.Fatalf("follow-up by an unknown way: %v", err)
	}
	f, sv, err := e.db.CompleteFollowup(e.ctx, fid, model.FollowupResult{DoneBy: e.staff.ID, Result: "恢复良好", Channel: "electronic",
		Scores: map[string]int64{"overall": 5, "attitude": 4}, Via: "phone"})
	e.must(err)
	if f.Status != model.FollowupDone || sv.Status != model.SurveyAnswered || sv.Scores != `{"attitude":4,"overall":5}` || f.Channel != "phone" {
		t.Fatalf("follow-up %+v survey %+v", f, sv)
	}
	// Every stateful change left a history row; the status history is append-only.
	var hist int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM status_history WHERE entity = 'record' AND entity_id = ?", rec.ID).Scan(&hist))
	if hist != 3 { // create(draft), signed, archived
		t.Fatalf("record history rows: %d", hist)
	}
}

// testIllegalTransitions: each refusal names its rule and changes nothing.
func testIllegalTransitions(t *testing.T) {
	cases := []struct {
		name string
		rule string
		run  func(e *env) func() error
	}{
		{"apply with an unpaid order", "order.not_paid", func(e *env) func() error {
			o := e.order(e.plain, 5, false)
			return func() error {
				_, err := e.db.CreateApplication(e.ctx, model.NewApplication{OrderIDs: []int64{o.ID}, AppliedBy: e.staff.ID})
				return err
			}
		}},
		{"book after the order was refunded", "order.not_paid", func(e *env) func() error {
			c, o := e.course(e.plain, 3)
			_, err := e.db.ReceiveOrder(e.ctx, model.OrderMessage{InstitutionID: e.inst.ID, MessageID: "R1", Action: model.HISRefund, OrderNo: o.OrderNo})
			e.must(err)
			s := e.slots(2)
			return func() error {
				_, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: s[0].ID, Channel: model.ChannelOnsite})
				return err
			}
		}},
		{"execute without a signed consent", "consent.required", func(e *env) func() error {
			c, _ := e.course(e.laser, 1)
			tk, err := e.db.WalkIn(e.ctx, c.ID)
			e.must(err)
			return func() error {
				_, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
				return err
			}
		}},
		{"check in a cancelled appointment", "appointment.cancelled->checked_in", func(e *env) func() error {
			c, _ := e.course(e.plain, 3)
			s := e.slots(2)
			a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: s[1].ID, Channel: model.ChannelPhone})
			e.must(err)
			_, err = e.db.CancelAppointment(e.ctx, a.ID, "患者有事")
			e.must(err)
			return func() error {
				_, err := e.db.CheckIn(e.ctx, a.ID)
				return err
			}
		}},
		{"cancel a paid order without refund", "order.paid_cannot_cancel", func(e *env) func() error {
			o := e.order(e.plain, 2, true)
			return func() error {
				_, err := e.db.ReceiveOrder(e.ctx, model.OrderMessage{InstitutionID: e.inst.ID, MessageID: "C1", Action: model.HISCancel, OrderNo: o.OrderNo})
				return err
			}
		}},
		{"plan a course before assessment", "application.not_assessed", func(e *env) func() error {
			o := e.order(e.plain, 2, true)
			app, err := e.db.CreateApplication(e.ctx, model.NewApplication{OrderIDs: []int64{o.ID}, AppliedBy: e.staff.ID})
			e.must(err)
			return func() error {
				_, err := e.db.PlanCourse(e.ctx, app.ID, e.staff.ID)
				return err
			}
		}},
		{"merge orders of two patients", "application.mixed_patients", func(e *env) func() error {
			o1, o2 := e.order(e.plain, 2, true), e.order(e.plain, 2, true)
			return func() error {
				_, err := e.db.CreateApplication(e.ctx, model.NewApplication{OrderIDs: []int64{o1.ID, o2.ID}, AppliedBy: e.staff.ID})
				return err
			}
		}},
		{"book a closed slot", "slot.closed", func(e *env) func() error {
			c, _ := e.course(e.plain, 3)
			e.n++
			ro, s, err := e.db.CreateRoster(e.ctx, model.NewRoster{DeptID: e.dept.ID, StaffID: e.staff.ID, RoomID: e.room.ID,
				Day: model.DayOf(e.clock.Now()), Shift: "pm", Start: "14:00", End: "15:00", SlotMinutes: 30, Capacity: 2})
			e.must(err)
			_, err = e.db.StopRoster(e.ctx, ro.ID, "设备故障")
			e.must(err)
			return func() error {
				_, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: s[0].ID, Channel: model.ChannelOnsite})
				return err
			}
		}},
		{"check in on another day", "appointment.not_today", func(e *env) func() error {
			c, _ := e.course(e.plain, 3)
			s := e.slots(2)
			a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: s[0].ID, Channel: model.ChannelOnsite})
			e.must(err)
			e.clock.Add(-24 * time.Hour)
			return func() error {
				_, err := e.db.CheckIn(e.ctx, a.ID)
				return err
			}
		}},
		{"complete a session twice", "session.completed->completed", func(e *env) func() error {
			c, _ := e.course(e.plain, 3)
			tk, err := e.db.WalkIn(e.ctx, c.ID)
			e.must(err)
			s, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
			e.must(err)
			_, _, err = e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s.ID, Units: 1, RecordContent: "{}"})
			e.must(err)
			return func() error {
				_, _, err := e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s.ID, Units: 1, RecordContent: "{}"})
				return err
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			refused := tc.run(e)
			before := e.snapshot()
			err := refused()
			after := e.snapshot()
			wantRule(t, err, tc.rule)
			if before != after {
				t.Fatalf("refused change wrote something: before %+v after %+v", before, after)
			}
		})
	}
}

// testPaymentRecheckRefusal: the HIS says refunded at the cashier. The start is
// refused; the re-check and the refund it reported are recorded, and no
// session exists.
func testPaymentRecheckRefusal(t *testing.T) {
	e := newEnv(t)
	c, o := e.course(e.plain, 2)
	tk, err := e.db.WalkIn(e.ctx, c.ID)
	e.must(err)
	e.his.Set(o.OrderNo, model.OrderRefunded)
	_, err = e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
	wantRule(t, err, "order.not_paid")
	var checks, sessions int
	var result string
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*), MAX(result) FROM payment_check WHERE order_id = ?", o.ID).Scan(&checks, &result))
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM treatment_session").Scan(&sessions))
	got, err := e.db.Order(e.ctx, o.ID)
	e.must(err)
	if checks != 1 || result != model.OrderRefunded || sessions != 0 || got.Status != model.OrderRefunded || got.RefundFen != 2*4500 {
		t.Fatalf("checks %d result %s sessions %d order %s refund %d", checks, result, sessions, got.Status, got.RefundFen)
	}
	tk2, err := e.db.WalkIn(e.ctx, c.ID)
	if err == nil {
		t.Fatalf("walk-in after refund: %+v", tk2)
	}
}
