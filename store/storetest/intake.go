package storetest

import (
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/model"
)

// testHISIntakeIdempotentAndValidated: replayed messages change nothing; bad
// messages are refused before any write, naming the field.
func testHISIntakeIdempotentAndValidated(t *testing.T) {
	e := newEnv(t)
	msg := model.OrderMessage{InstitutionID: e.inst.ID, MessageID: "MSG-1", Action: model.HISNew, OrderNo: "HIS-0001",
		PatientMRN: "MRN-1", PatientName: "欧阳娜娜😀" + strings.Repeat("长", 40), Gender: "F", ProjectCode: e.plain.Code, Quantity: 10,
		VisitType: model.VisitInpatient, DiagnosisCode: "I63.9", DiagnosisName: "脑梗死", OrderedAt: e.clock.Now()}
	o, err := e.db.ReceiveOrder(e.ctx, msg)
	e.must(err)
	if o.Status != model.OrderUnpaid || o.AmountFen != 10*4500 {
		t.Fatalf("order %+v", o)
	}
	p, err := e.db.PatientByMRN(e.ctx, e.inst.ID, "MRN-1")
	e.must(err)
	if p.Name != msg.PatientName {
		t.Fatalf("name did not round-trip: %q", p.Name)
	}
	before := e.snapshot()
	again, err := e.db.ReceiveOrder(e.ctx, msg)
	e.must(err)
	if again.ID != o.ID || e.snapshot() != before {
		t.Fatal("replayed message wrote again")
	}
	pay := model.OrderMessage{InstitutionID: e.inst.ID, MessageID: "MSG-2", Action: model.HISPay, OrderNo: "HIS-0001"}
	o, err = e.db.ReceiveOrder(e.ctx, pay)
	e.must(err)
	if o.Status != model.OrderPaid || o.PaidAt == nil {
		t.Fatalf("paid order %+v", o)
	}
	mid := e.snapshot()
	if _, err := e.db.ReceiveOrder(e.ctx, pay); err != nil || e.snapshot() != mid {
		t.Fatalf("replayed payment: %v", err)
	}

	bad := []struct {
		field string
		edit  func(m *model.OrderMessage)
	}{
		{"project_code", func(m *model.OrderMessage) { m.ProjectCode = "NOPE" }},
		{"patient_mrn", func(m *model.OrderMessage) { m.PatientMRN = "MRN-404"; m.PatientName = "" }},
		{"quantity", func(m *model.OrderMessage) { m.Quantity = -1 }},
		{"order_no", func(m *model.OrderMessage) { m.OrderNo = "' OR 1=1 --" }},
	}
	for i, b := range bad {
		m := msg
		m.MessageID = "BAD-" + string(rune('A'+i))
		m.OrderNo = "HIS-9" + string(rune('A'+i))
		b.edit(&m)
		s := e.snapshot()
		_, err := e.db.ReceiveOrder(e.ctx, m)
		if model.ErrorCode(err) != model.EINVALID || model.ErrorField(err) != b.field {
			t.Errorf("want invalid %s, got %v", b.field, err)
		}
		if e.snapshot() != s {
			t.Errorf("%s: refused message wrote something", b.field)
		}
	}
}

func testCatalogValidation(t *testing.T) {
	e := newEnv(t)
	p := &model.Project{DeptID: e.dept.ID, Code: "X1", Name: "负价项目", UnitPriceFen: -100, Minutes: 30, CourseSessions: 5}
	p.InstitutionID = e.inst.ID
	if err := e.db.CreateProject(e.ctx, p); model.ErrorField(err) != "unit_price_fen" {
		t.Fatalf("negative price: %v", err)
	}
	p.UnitPriceFen, p.FollowupDays = 100, "1,x"
	if err := e.db.CreateProject(e.ctx, p); model.ErrorField(err) != "followup_days" {
		t.Fatalf("bad plan: %v", err)
	}
	p.FollowupDays, p.DeptID = "1", 999
	if err := e.db.CreateProject(e.ctx, p); model.ErrorField(err) != "dept_id" {
		t.Fatalf("unknown dept: %v", err)
	}
	dup := &model.Project{DeptID: e.dept.ID, Code: e.plain.Code, Name: "重复", UnitPriceFen: 1, Minutes: 30, CourseSessions: 5}
	dup.InstitutionID = e.inst.ID
	wantRule(t, e.db.CreateProject(e.ctx, dup), "project.duplicate")
}

// testSetProjectScope: a scope change is a new version of the project with
// its outbox event; an unknown project is not found.
func testSetProjectScope(t *testing.T) {
	e := newEnv(t)
	before := e.plain.Version
	p, err := e.db.SetProjectScope(e.ctx, e.plain.ID, !e.plain.EMRScope, true)
	if err != nil || p.EMRScope == e.plain.EMRScope || !p.SmartScope || p.Version != before+1 {
		t.Fatalf("%+v %v", p, err)
	}
	var n int
	e.db.QueryRowContext(e.ctx, `SELECT count(*) FROM cdc_outbox WHERE entity = 'project' AND entity_id = ? AND version = ? AND op = 'u'`, p.ID, p.Version).Scan(&n)
	if n != 1 {
		t.Errorf("%d outbox events for the scope change", n)
	}
	if _, err := e.db.SetProjectScope(e.ctx, 999999, true, true); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("unknown project: %v", err)
	}
}
