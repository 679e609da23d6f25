package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/model"
)

var allRoles = []string{model.RoleAdmin, model.RoleSecurityAdmin, model.RoleAuditAdmin, model.RoleDeptManager, model.RoleQualityOffice, model.RoleEvaluator, model.RoleClinician, model.RoleFrontDesk, model.RoleHIS, model.RolePatient}

// TestRoleRouteMatrix calls every route as every role: roles outside the
// route's list get 403, roles inside never get 401 or 403 (ids that do not
// exist give 404 or 400 instead), and no call is a 5xx.
func TestRoleRouteMatrix(t *testing.T) {
	f := newFixture(t)
	c, _ := f.course(f.plain, 2, "李四")
	var link struct{ Token string }
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", fmt.Sprintf("/api/v1/patients/%d/link", c.PatientID), nil, 201, &link)
	tokens := map[string]string{model.RolePatient: link.Token}
	for r, tok := range f.tokens {
		tokens[r] = tok
	}
	checked := 0
	for _, rt := range f.api.RouteTable() {
		path := strings.ReplaceAll(rt.Pattern, "{id}", "999999")
		if rt.Roles == nil || rt.Pattern == "/api/v1/auth/logout" { // logout would end the tokens; TestTokens covers it
			continue
		}
		allowed := map[string]bool{}
		for _, r := range rt.Roles {
			allowed[r] = true
		}
		for _, role := range allRoles {
			var body any
			if rt.Method == "POST" {
				body = map[string]any{}
			}
			code, out := f.do(tokens[role], rt.Method, path, body)
			if !allowed[role] && code != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d, want 403: %s", rt.Method, rt.Pattern, role, code, out)
			}
			if allowed[role] && (code == http.StatusForbidden || code == http.StatusUnauthorized) {
				t.Errorf("%s %s as %s: %d, want allowed: %s", rt.Method, rt.Pattern, role, code, out)
			}
			checked++
		}
		if code, _ := f.do("", rt.Method, path, nil); code != http.StatusUnauthorized {
			t.Errorf("%s %s without token: %d, want 401", rt.Method, rt.Pattern, code)
		}
	}
	if checked < 30*len(allRoles) {
		t.Fatalf("only %d role × route cells checked", checked)
	}
}

// TestBadInput: every kind of bad request gets a clear 4xx and writes nothing.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	cl, his := f.tokens[model.RoleClinician], f.tokens[model.RoleHIS]
	c, o := f.course(f.plain, 3, "王五")
	events := func() int { return f.count("SELECT COUNT(*) FROM cdc_outbox") }
	before := events()
	cases := []struct {
		name, token, method, path string
		body                      any
		status                    int
		code, field               string
	}{
		{"malformed JSON", cl, "POST", "/api/v1/applications", `{"order_ids": [1,`, 400, "invalid", "body"},
		{"empty body", cl, "POST", "/api/v1/applications", ``, 400, "invalid", "body"},
		{"two objects", cl, "POST", "/api/v1/applications", `{"order_ids":[1]} {}`, 400, "invalid", "body"},
		{"unknown field", cl, "POST", "/api/v1/applications", `{"order_ids":[1],"is_admin":true}`, 400, "invalid", "is_admin"},
		{"wrong type", cl, "POST", "/api/v1/applications", `{"order_ids":"1"}`, 400, "invalid", "order_ids"},
		{"oversized body", cl, "POST", "/api/v1/applications", `{"note":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "too_large", "body"},
		{"bad path id", cl, "GET", "/api/v1/applications/abc", nil, 400, "invalid", "id"},
		{"negative path id", cl, "GET", "/api/v1/applications/-3", nil, 400, "invalid", "id"},
		{"missing auth", "", "GET", "/api/v1/me", nil, 401, "unauthorized", ""},
		{"garbage token", "not-a-token", "GET", "/api/v1/me", nil, 401, "unauthorized", ""},
		{"unknown query parameter", cl, "GET", "/api/v1/queue?date=2026-03-02&dpt=1", nil, 400, "invalid", "dpt"},
		{"bad date", cl, "GET", "/api/v1/queue?date=2026-13-40", nil, 400, "invalid", "date"},
		{"another department's course", f.tokenB, "POST", "/api/v1/queue/walkins", map[string]any{"course_id": c.ID}, 403, "forbidden", ""},
		{"another department's queue", cl, "GET", fmt.Sprintf("/api/v1/queue?date=2026-03-02&dept=%d", f.deptB.ID), nil, 403, "forbidden", ""},
		{"unknown project code", his, "POST", "/api/v1/his/orders", map[string]any{"message_id": "X1", "action": "new", "order_no": "RX-X1",
			"patient_mrn": "MRN-X", "patient_name": "赵六", "project_code": "NOPE", "quantity": 2, "visit_type": "outpatient",
			"diagnosis_code": "M54.5", "ordered_at": day0}, 400, "invalid", "project_code"},
		{"negative refund", his, "POST", "/api/v1/his/payments", map[string]any{"message_id": "X2", "order_no": o.OrderNo, "action": "refund", "refund_fen": -5}, 400, "invalid", "refund_fen"},
		{"injection in identifier", his, "POST", "/api/v1/his/payments", map[string]any{"message_id": "X3'; DROP TABLE his_order;--", "order_no": o.OrderNo, "action": "pay"}, 400, "invalid", "message_id"},
		{"end before start", f.tokens[model.RoleDeptManager], "POST", "/api/v1/rosters", map[string]any{"dept_id": f.deptA.ID, "staff_id": f.staffA.ID,
			"room_id": f.roomA.ID, "day": "2026-03-03", "shift": "am", "start": "11:00", "end": "08:00", "slot_minutes": 30, "capacity": 1}, 400, "invalid", "end"},
		{"illegal transition", cl, "POST", fmt.Sprintf("/api/v1/applications/%d/course", c.ApplicationID), nil, 409, "conflict", "application.planned->planned"},
		{"evaluator write", f.tokens[model.RoleEvaluator], "POST", "/api/v1/applications", map[string]any{"order_ids": []int64{o.ID}}, 403, "forbidden", ""},
		{"wrong method", cl, "DELETE", "/api/v1/applications/1", nil, 405, "method_not_allowed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(tc.token, tc.method, tc.path, tc.body)
			f.t = t
			f.wantError(code, body, tc.status, tc.code, tc.field)
		})
	}
	f.t = t
	if after := events(); after != before {
		t.Fatalf("bad requests wrote %d events", after-before)
	}
	// Replayed HIS messages are idempotent by order number and message id.
	msg := map[string]any{"message_id": "PAY-1", "order_no": o.OrderNo, "action": "refund"}
	var first, second model.Order
	f.mustDo(his, "POST", "/api/v1/his/payments", msg, 200, &first)
	mid := events()
	f.mustDo(his, "POST", "/api/v1/his/payments", msg, 200, &second)
	if events() != mid || first.Version != second.Version || second.Status != model.OrderRefunded {
		t.Fatalf("replay changed the order: %+v → %+v", first, second)
	}
}

// TestTokens: expiry, logout, cookie flags and login rate limiting.
func TestTokens(t *testing.T) {
	f := newFixture(t)
	tok := f.tokens[model.RoleFrontDesk]
	var me struct{ Role, Scope string }
	f.mustDo(tok, "GET", "/api/v1/me", nil, 200, &me)
	if me.Role != model.RoleFrontDesk {
		t.Fatalf("me %+v", me)
	}
	var mgr struct{ Scope string }
	f.mustDo(f.tokens[model.RoleDeptManager], "GET", "/api/v1/me", nil, 200, &mgr)
	if mgr.Scope != "department" {
		t.Fatalf("manager scope %+v", mgr)
	}
	// Tokens are stored hashed, never in the clear.
	if n := f.count("SELECT COUNT(*) FROM auth_token WHERE token_hash = ?", tok); n != 0 {
		t.Fatal("token stored in the clear")
	}
	f.mustDo(tok, "POST", "/api/v1/auth/logout", nil, 204, nil)
	code, body := f.do(tok, "GET", "/api/v1/me", nil)
	f.wantError(code, body, 401, "unauthorized", "")
	cl := f.tokens[model.RoleClinician]
	f.clock.Add(9 * time.Hour)
	code, body = f.do(cl, "GET", "/api/v1/me", nil)
	f.wantError(code, body, 401, "unauthorized", "")
	if !strings.Contains(string(body), "过期") {
		t.Fatalf("expired token message: %s", body)
	}
	// The login cookie is HttpOnly and SameSite.
	resp, err := http.Post(f.srv.URL+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"u_admin","password":"Password-admin"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v", ck)
	}
	code, body = f.do("", "POST", "/api/v1/auth/login", map[string]string{"username": "u_admin", "password": "wrong"})
	f.wantError(code, body, 401, "unauthorized", "")
	code2, body2 := f.do("", "POST", "/api/v1/auth/login", map[string]string{"username": "nobody", "password": "wrong"})
	if code2 != code || string(body2)[:60] != string(body)[:60] {
		t.Fatalf("unknown user answered differently: %s vs %s", body2, body)
	}
	// Login is rate-limited per client address.
	f.api.Throttle = access.NewLoginThrottle(f.api.Clients, 3, 1000)
	limited := newFixtureServer(t, f)
	var last int
	for i := 0; i < 5; i++ {
		resp, err := http.Post(limited+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"u_admin","password":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("6th login attempt: %d, want 429", last)
	}
}

// TestOpenAPIMatchesRouter: every mounted route is documented and every
// documented path is mounted; the document is valid OpenAPI 3.
func TestOpenAPIMatchesRouter(t *testing.T) {
	f := newFixture(t)
	var raw map[string]any
	f.mustDo("", "GET", "/api/v1/openapi.json", nil, 200, &raw)
	doc, err := f.api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	documented := map[string]bool{}
	for path, item := range raw["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	mounted := map[string]bool{}
	err = chi.Walk(f.api.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		mounted[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for k := range mounted {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !mounted[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("mounted but undocumented: %v\ndocumented but not mounted: %v", missing, extra)
	}
	if len(mounted) < 35 {
		t.Fatalf("only %d routes", len(mounted))
	}
	b, _ := json.Marshal(raw["paths"].(map[string]any)["/api/v1/appointments"])
	if !strings.Contains(string(b), "course_id") {
		t.Fatalf("booking body schema missing: %s", b)
	}
}

// TestTextRoundTrip: injection strings, Chinese and emoji in free-text fields
// are stored and returned verbatim, as data.
func TestTextRoundTrip(t *testing.T) {
	f := newFixture(t)
	cl := f.tokens[model.RoleClinician]
	texts := []string{`'); DROP TABLE treatment_record;--`, `=HYPERLINK("http://x","y")`, "+1\t-2\r@3", `<img src=x onerror=alert(1)>`,
		"脑梗死后遗症 🧠 " + strings.Repeat("康复", 200), `{"$where":"1==1"}`}
	c, _ := f.course(f.plain, len64(texts), "钱七")
	for i, text := range texts {
		var tk model.QueueTicket
		f.mustDo(f.tokens[model.RoleFrontDesk], "POST", "/api/v1/queue/walkins", map[string]any{"course_id": c.ID}, 201, &tk)
		var s model.Session
		f.mustDo(cl, "POST", "/api/v1/sessions", map[string]any{"ticket_id": tk.ID, "room_id": f.roomA.ID}, 201, &s)
		// The record is a JSON object of the form's fields: the text goes in its note.
		content, _ := json.Marshal(map[string]string{"note": text})
		again, _ := json.Marshal(map[string]string{"note": text + "#" + fmt.Sprint(i)})
		var done struct{ Record model.Record }
		f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/sessions/%d/complete", s.ID), map[string]any{"units": 1, "record_content": string(content), "adverse_reaction": text}, 200, &done)
		var amended model.Record
		f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/records/%d/amend", done.Record.ID), map[string]string{"content": string(again)}, 200, &amended)
		if done.Record.Content != string(content) || amended.Content != string(again) {
			t.Fatalf("text %d changed: %q / %q", i, done.Record.Content, amended.Content)
		}
	}
	var ar model.PatientArchive
	f.mustDo(cl, "GET", fmt.Sprintf("/api/v1/patients/%d/archive", c.PatientID), nil, 200, &ar)
	if len(ar.Records) != len(texts) || ar.Sessions[0].AdverseReaction != texts[0] {
		t.Fatalf("archive after injection strings: %d records, %q", len(ar.Records), ar.Sessions[0].AdverseReaction)
	}
	if n := f.count("SELECT COUNT(*) FROM treatment_record"); n != len(texts) {
		t.Fatalf("records table has %d rows", n)
	}
}

func len64[T any](s []T) int64 { return int64(len(s)) }
