package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/zhiliao/zhiliao/model"
)

// TestFindPatients: the front desk finds a patient by phone or national ID
// number, exactly (through the blind index: the core holds both sealed),
// in its own hospital; other roles may not, and a malformed lookup is a 400.
func TestFindPatients(t *testing.T) {
	f := newFixture(t)
	for i, phone := range []string{"13900000001", "13900000002"} {
		f.mustDo(f.tokens[model.RoleHIS], "POST", "/api/v1/his/orders", map[string]any{
			"message_id": fmt.Sprintf("FP%d", i), "action": "new", "order_no": fmt.Sprintf("FP%04d", i), "patient_mrn": fmt.Sprintf("FP%04d", i),
			"patient_name": "查找测试", "gender": "F", "phone": phone, "id_number": []string{"11010519491231002X", "110105198001010016"}[i],
			"project_code": f.plain.Code, "quantity": 1, "visit_type": "outpatient", "diagnosis_code": "M54.5", "diagnosis_name": "腰痛",
			"ordered_at": f.clock.Now(), "paid": true}, 200, nil)
	}
	var got struct {
		Items []*model.Patient `json:"items"`
	}
	f.mustDo(f.tokens[model.RoleFrontDesk], "GET", "/api/v1/patients?phone=13900000002", nil, 200, &got)
	if len(got.Items) != 1 || got.Items[0].MRN != "FP0001" || got.Items[0].Phone != "13900000002" {
		t.Errorf("by phone: %+v", got.Items)
	}
	f.mustDo(f.tokens[model.RoleFrontDesk], "GET", "/api/v1/patients?id_number=11010519491231002x", nil, 200, &got)
	if len(got.Items) != 1 || got.Items[0].MRN != "FP0000" {
		t.Errorf("by ID number (lower-case x): %+v", got.Items)
	}
	f.mustDo(f.tokens[model.RoleFrontDesk], "GET", "/api/v1/patients?phone=1390000000", nil, 200, &got)
	if len(got.Items) != 0 {
		t.Errorf("a prefix found %+v: lookups are exact", got.Items)
	}
	code, body := f.do(f.tokens[model.RoleFrontDesk], "GET", "/api/v1/patients?phone=", nil)
	f.wantError(code, body, http.StatusBadRequest, model.EINVALID, "phone")
	code, body = f.do(f.tokens[model.RoleFrontDesk], "GET", "/api/v1/patients?name=查找测试", nil)
	if code != http.StatusBadRequest {
		t.Errorf("an unknown parameter: %d %s", code, body)
	}
	code, body = f.do(f.tokens[model.RoleFrontDesk], "GET", "/api/v1/patients?phone=13900000002&id_number=11010519491231002X", nil)
	f.wantError(code, body, http.StatusBadRequest, model.EINVALID, "id_number")
	if code, _ := f.do(f.tokens[model.RoleEvaluator], "GET", "/api/v1/patients?phone=13900000002", nil); code != http.StatusForbidden {
		t.Errorf("an evaluator looked a patient up: %d", code)
	}
}
