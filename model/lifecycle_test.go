package model_test

import (
	"testing"

	"github.com/zhiliao/zhiliao/model"
)

// TestTransitionTable checks, for every stateful entity, every pair of its
// statuses: listed pairs pass, all others are conflicts naming the rule.
func TestTransitionTable(t *testing.T) {
	for entity := range model.Transitions {
		if model.InitialStatus[entity] == "" {
			t.Errorf("%s has no initial status", entity)
		}
		statuses := model.Statuses(entity)
		for _, from := range statuses {
			for _, to := range statuses {
				_, legal := model.Transitions[entity][from][to]
				err := model.CheckTransition(entity, from, to)
				if legal && err != nil {
					t.Errorf("%s %s→%s refused: %v", entity, from, to, err)
				}
				if !legal {
					if model.ErrorCode(err) != model.ECONFLICT || model.ErrorRule(err) == "" {
						t.Errorf("%s %s→%s: want conflict with rule, got %v", entity, from, to, err)
					}
				}
			}
		}
	}
}

func TestTransitionSamples(t *testing.T) {
	cases := []struct {
		entity, from, to, rule string
	}{
		{"order", model.OrderUnpaid, model.OrderPaid, ""},
		{"order", model.OrderRefunded, model.OrderPaid, "order.refunded->paid"},
		{"order", model.OrderCancelled, model.OrderPaid, "order.cancelled->paid"},
		{"appointment", model.ApptCancelled, model.ApptCheckedIn, "appointment.cancelled->checked_in"},
		{"appointment", model.ApptNoShow, model.ApptCheckedIn, "appointment.no_show->checked_in"},
		{"appointment", model.ApptBooked, model.ApptCompleted, "appointment.booked->completed"},
		{"record", model.RecordArchived, model.RecordDraft, "record.archived_immutable"},
		{"record", model.RecordDraft, model.RecordArchived, "record.draft->archived"},
		{"record", model.RecordSigned, model.RecordDraft, ""},
		{"session", model.SessionCompleted, model.SessionAborted, "session.completed->aborted"},
		{"course", model.CourseArchived, model.CourseActive, "course.archived->active"},
		{"queue_ticket", model.TicketDone, model.TicketInTreatment, "queue_ticket.done->in_treatment"},
		{"consent", model.ConsentRevoked, model.ConsentSigned, "consent.revoked->signed"},
		{"followup", model.FollowupMissed, model.FollowupDone, ""},
	}
	for _, c := range cases {
		err := model.CheckTransition(c.entity, c.from, c.to)
		if c.rule == "" && err != nil {
			t.Errorf("%s %s→%s: %v", c.entity, c.from, c.to, err)
		} else if c.rule != "" && model.ErrorRule(err) != c.rule {
			t.Errorf("%s %s→%s: want rule %s, got %v", c.entity, c.from, c.to, c.rule, err)
		}
	}
}

func TestValidationNamesField(t *testing.T) {
	good := model.OrderMessage{InstitutionID: 1, MessageID: "M1", Action: model.HISNew, OrderNo: "O1", PatientMRN: "P1",
		ProjectCode: "KF001", Quantity: 3, VisitType: model.VisitOutpatient, DiagnosisCode: "M54.5"}
	good.OrderedAt = good.OrderedAt.AddDate(2026, 0, 0)
	if err := good.Validate(); err != nil {
		t.Fatalf("good message refused: %v", err)
	}
	cases := []struct {
		field string
		edit  func(m *model.OrderMessage)
	}{
		{"order_no", func(m *model.OrderMessage) { m.OrderNo = "1; DROP TABLE his_order" }},
		{"order_no", func(m *model.OrderMessage) { m.OrderNo = "" }},
		{"message_id", func(m *model.OrderMessage) { m.MessageID = "=cmd|' /C calc'!A0" }},
		{"patient_mrn", func(m *model.OrderMessage) { m.PatientMRN = "P 1" }},
		{"project_code", func(m *model.OrderMessage) { m.ProjectCode = "<script>" }},
		{"quantity", func(m *model.OrderMessage) { m.Quantity = -2 }},
		{"visit_type", func(m *model.OrderMessage) { m.VisitType = "emergency" }},
		{"diagnosis_code", func(m *model.OrderMessage) { m.DiagnosisCode = "腰痛" }},
		{"action", func(m *model.OrderMessage) { m.Action = "delete" }},
		{"refund_fen", func(m *model.OrderMessage) { m.Action = model.HISRefund; m.RefundFen = -1 }},
	}
	for _, c := range cases {
		m := good
		c.edit(&m)
		err := m.Validate()
		if model.ErrorCode(err) != model.EINVALID || model.ErrorField(err) != c.field {
			t.Errorf("want invalid %s, got %v", c.field, err)
		}
	}
	r := model.NewRoster{DeptID: 1, StaffID: 1, RoomID: 1, Day: "2026-03-02", Shift: "am", Start: "11:00", End: "08:00", SlotMinutes: 30, Capacity: 2}
	if err := r.Validate(); model.ErrorField(err) != "end" {
		t.Errorf("end before start: %v", err)
	}
	r.Start, r.End, r.Day = "08:00", "11:00", "2026-02-30"
	if err := r.Validate(); model.ErrorField(err) != "day" {
		t.Errorf("bad day: %v", err)
	}
	if err := (&model.CompleteSession{SessionID: 1, Units: 0, RecordContent: "x"}).Validate(); model.ErrorField(err) != "units" {
		t.Errorf("zero units: %v", err)
	}
	if err := model.ValidateScores(map[string]int64{"overall": 9}); model.ErrorField(err) != "scores.overall" {
		t.Errorf("score out of range: %v", err)
	}
}
