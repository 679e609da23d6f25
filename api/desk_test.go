package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/model"
)

// TestDeskSearchAndQRRefusals: the desk's search and the QR code refuse
// bad input with a field and a Chinese message, other departments and
// roles are refused, and the QR code is made only for this service's
// patient links.
func TestDeskSearchAndQRRefusals(t *testing.T) {
	f := newFixture(t)
	desk := f.tokens[model.RoleFrontDesk]
	c, _ := f.course(f.plain, 2, "钱十二")
	var found struct{ Items []model.DeskPatient }
	f.mustDo(desk, "GET", fmt.Sprintf("/api/v1/desk/patients?dept=%d&q=%s", f.deptA.ID, url.QueryEscape("钱十")), nil, 200, &found)
	if len(found.Items) != 1 || found.Items[0].Patient.ID != c.PatientID || len(found.Items[0].Courses) != 1 {
		t.Fatalf("found %+v", found.Items)
	}
	for _, bad := range []struct{ path, field string }{
		{fmt.Sprintf("/api/v1/desk/patients?dept=%d&q=", f.deptA.ID), "q"},
		{fmt.Sprintf("/api/v1/desk/patients?dept=%d&q=%s", f.deptA.ID, strings.Repeat("王", 31)), "q"},
		{"/api/v1/desk/patients?dept=x&q=5678", "dept"},
		{fmt.Sprintf("/api/v1/desk/patients?dept=%d&q=5678&sql=1", f.deptA.ID), "sql"},
		{"/api/v1/qr", "url"},
		{"/api/v1/qr?url=" + url.QueryEscape("http://evil.example/p/abc"), "url"},
		{"/api/v1/qr?url=" + url.QueryEscape(f.srv.URL+"/dash/"), "url"},
		{"/api/v1/qr?url=" + url.QueryEscape(f.srv.URL+"/p/abc?next=x"), "url"},
	} {
		code, body := f.do(desk, "GET", bad.path, nil)
		f.wantError(code, body, http.StatusBadRequest, model.EINVALID, bad.field)
	}
	code, body := f.do(f.tokenB, "GET", fmt.Sprintf("/api/v1/desk/patients?dept=%d&q=5678", f.deptA.ID), nil)
	f.wantError(code, body, http.StatusForbidden, model.EFORBIDDEN, "")
	code, body = f.do(f.tokens[model.RoleEvaluator], "GET", "/api/v1/qr?url="+url.QueryEscape(f.srv.URL+"/p/abc"), nil)
	if code != http.StatusForbidden {
		t.Errorf("an evaluator made a QR code: %d %s", code, body)
	}
	resp, svg := f.send(desk, "GET", "/api/v1/qr?url="+url.QueryEscape(f.srv.URL+"/p/abc"), nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(string(svg), "<svg") {
		t.Errorf("the QR code: %d %s %.60s", resp.StatusCode, resp.Header.Get("Content-Type"), svg)
	}
}
