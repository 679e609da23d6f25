package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/model"
)

// executed takes a new course of project p through one completed session
// by department A's clinician, and returns the course and the draft record.
func (f *fixture) executed(p *model.Project, name string) (*model.Course, model.Record, model.Session) {
	f.t.Helper()
	cl, desk := f.tokens[model.RoleClinician], f.tokens[model.RoleFrontDesk]
	c, _ := f.course(p, 2, name)
	slots := f.slots(4)
	var a model.Appointment
	f.mustDo(desk, "POST", "/api/v1/appointments", model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: "onsite"}, 201, &a)
	f.clock.Set(slots[0].StartAt.Add(-10 * time.Minute))
	var tk model.QueueTicket
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/appointments/%d/checkin", a.ID), nil, 201, &tk)
	var s model.Session
	f.mustDo(cl, "POST", "/api/v1/sessions", map[string]any{"ticket_id": tk.ID, "room_id": f.roomA.ID}, 201, &s)
	var done struct {
		Session model.Session
		Record  model.Record
	}
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/sessions/%d/complete", s.ID), map[string]any{"units": 1, "record_content": `{"note":"ok"}`}, 200, &done)
	return c, done.Record, done.Session
}

// TestIdentityFromSession: every clinical act names the signed-in
// clinician. A body field naming a colleague is refused with 400 naming the
// field and writes nothing; the clinician's own id, or none, is accepted.
// No administrator can sign or amend a record.
func TestIdentityFromSession(t *testing.T) {
	f := newFixture(t)
	cl := f.tokens[model.RoleClinician]
	c, rec, _ := f.executed(f.plain, "王一")
	o := f.paidOrder(f.plain, 2, "王二")
	before := f.count("SELECT COUNT(*) FROM cdc_outbox")
	colleague := f.managerA.ID // same department: only identity refuses it
	var app model.Application
	refusals := []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", fmt.Sprintf("/api/v1/records/%d/sign", rec.ID), map[string]any{"signer_id": colleague}, "signer_id"},
		{"POST", "/api/v1/applications", map[string]any{"order_ids": []int64{o.ID}, "applied_by": colleague}, "applied_by"},
		{"POST", "/api/v1/consents", map[string]any{"course_id": c.ID, "signer_name": "王一", "signer_relation": "self", "witness_id": colleague,
			"signature": []byte("\x89PNG\r\n\x1a\nsig")}, "witness_id"},
	}
	for _, tc := range refusals {
		code, body := f.do(cl, tc.method, tc.path, tc.body)
		f.wantError(code, body, 400, "invalid", tc.field)
		if !strings.Contains(string(body), "本人") {
			t.Errorf("%s: the message does not say why: %s", tc.path, body)
		}
	}
	if after := f.count("SELECT COUNT(*) FROM cdc_outbox"); after != before {
		t.Fatalf("refused acts wrote %d events", after-before)
	}
	f.mustDo(cl, "POST", "/api/v1/applications", map[string]any{"order_ids": []int64{o.ID}, "applied_by": f.staffA.ID}, 201, &app)
	code, body := f.do(cl, "POST", fmt.Sprintf("/api/v1/applications/%d/assessments", app.ID), map[string]any{"kind": "initial", "score": 50,
		"answers": map[string]string{"pain": "5"}, "assessor_id": colleague, "sign": true})
	f.wantError(code, body, 400, "invalid", "assessor_id")
	var signed model.Record
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/records/%d/sign", rec.ID), map[string]any{}, 200, &signed)
	if signed.SignerID == nil || *signed.SignerID != f.staffA.ID {
		t.Fatalf("signed by %v, want the clinician's own staff %d", signed.SignerID, f.staffA.ID)
	}
	// Administrators sign, amend or re-sign nothing.
	for _, role := range []string{model.RoleAdmin, model.RoleSecurityAdmin, model.RoleAuditAdmin} {
		for _, path := range []string{fmt.Sprintf("/api/v1/records/%d/amend", rec.ID), fmt.Sprintf("/api/v1/records/%d/sign", rec.ID)} {
			code, body := f.do(f.tokens[role], "POST", path, map[string]any{"content": "改"})
			f.wantError(code, body, 403, "forbidden", "")
		}
	}
}

// TestSeparationOfDuties: the system administrator makes accounts (a
// clinical one only bound to a staff record) but grants no role; the
// security administrator changes roles, unlocks and resets; the audit
// administrator reads the audit log and nothing else; none of the three
// can write clinical data, and the audit log is theirs alone to read.
func TestSeparationOfDuties(t *testing.T) {
	f := newFixture(t)
	admin, sec, aud := f.tokens[model.RoleAdmin], f.tokens[model.RoleSecurityAdmin], f.tokens[model.RoleAuditAdmin]
	free := &model.Staff{DeptID: f.deptA.ID, Code: "TA2", Name: "新治疗师", Role: model.StaffTherapist, Active: true}
	free.InstitutionID = f.inst.ID
	if err := f.db.CreateStaff(t.Context(), free); err != nil {
		t.Fatal(err)
	}
	code, body := f.do(admin, "POST", "/api/v1/admin/users", map[string]any{"username": "new_cl", "password": "Welcome-2026", "role": "clinician"})
	f.wantError(code, body, 400, "invalid", "staff_id")
	code, body = f.do(admin, "POST", "/api/v1/admin/users", map[string]any{"username": "new_cl", "password": "Welcome-2026", "role": "clinician", "staff_id": f.staffA.ID})
	f.wantError(code, body, 409, "conflict", "user.staff_bound")
	code, body = f.do(admin, "POST", "/api/v1/admin/users", map[string]any{"username": "boss", "password": "Welcome-2026", "role": model.RoleSecurityAdmin})
	f.wantError(code, body, 400, "invalid", "role")
	code, body = f.do(admin, "POST", "/api/v1/admin/users", map[string]any{"username": "new_cl", "password": "welcome", "role": "clinician", "staff_id": free.ID})
	f.wantError(code, body, 400, "invalid", "password")
	var u model.User
	f.mustDo(admin, "POST", "/api/v1/admin/users", map[string]any{"username": "new_cl", "password": "Welcome-2026", "role": "clinician", "staff_id": free.ID}, 201, &u)
	if u.DeptID == nil || *u.DeptID != f.deptA.ID || u.StaffID == nil || *u.StaffID != free.ID {
		t.Fatalf("account %+v: want bound to staff %d of department %d", u, free.ID, f.deptA.ID)
	}
	// The new account plans a course: it acts as its own staff record.
	newCl := f.login("new_cl", "Welcome-2026")
	o := f.paidOrder(f.plain, 1, "赵三")
	var app model.Application
	f.mustDo(newCl, "POST", "/api/v1/applications", map[string]any{"order_ids": []int64{o.ID}}, 201, &app)
	if app.AppliedBy != free.ID {
		t.Fatalf("applied by %d, want %d", app.AppliedBy, free.ID)
	}
	// Roles: the security administrator's, never the system administrator's.
	role := map[string]any{"role": model.RoleFrontDesk}
	code, body = f.do(admin, "POST", fmt.Sprintf("/api/v1/admin/users/%d/role", u.ID), role)
	f.wantError(code, body, 403, "forbidden", "")
	code, body = f.do(sec, "POST", fmt.Sprintf("/api/v1/admin/users/%d/role", u.ID), map[string]any{"role": model.RoleAuditAdmin})
	f.wantError(code, body, 400, "invalid", "role")
	f.mustDo(sec, "POST", fmt.Sprintf("/api/v1/admin/users/%d/role", u.ID), role, 200, nil)
	code, _ = f.do(newCl, "GET", "/api/v1/me", nil)
	if code != 401 {
		t.Fatalf("a changed role keeps its sessions: %d", code)
	}
	code, body = f.do(sec, "POST", "/api/v1/admin/users", map[string]any{"username": "x9", "password": "Welcome-2026", "role": "evaluator"})
	f.wantError(code, body, 403, "forbidden", "")
	// Administrator accounts are kept on the command line only.
	var adminID int64
	if err := f.db.QueryRowContext(context.Background(), "SELECT id FROM user_account WHERE username = 'u_admin'").Scan(&adminID); err != nil {
		t.Fatal(err)
	}
	code, body = f.do(sec, "POST", fmt.Sprintf("/api/v1/admin/users/%d/reset-password", adminID), map[string]any{"password": "Taken-over-1"})
	f.wantError(code, body, 403, "forbidden", "")
	// The audit log: read by the audit administrator only.
	var log struct {
		Items []model.AuditLine
		Count int
	}
	f.mustDo(aud, "GET", "/api/v1/audit?from=2026-03-01&to=2026-03-31&action=write", nil, 200, &log)
	if log.Count == 0 {
		t.Fatal("the audit administrator reads no write lines")
	}
	for _, tok := range []string{admin, sec, f.tokens[model.RoleQualityOffice], f.tokens[model.RoleClinician]} {
		code, body := f.do(tok, "GET", "/api/v1/audit?from=2026-03-01&to=2026-03-31", nil)
		f.wantError(code, body, 403, "forbidden", "")
	}
	// None of the three writes clinical data, through any route.
	for _, tok := range []string{admin, sec, aud} {
		for _, tc := range []struct{ path string }{{"/api/v1/his/orders"}, {"/api/v1/applications"}, {"/api/v1/appointments"}, {"/api/v1/complaints"}} {
			code, body := f.do(tok, "POST", tc.path, map[string]any{})
			f.wantError(code, body, 403, "forbidden", "")
		}
	}
}

// TestPatientScope: a clinician of department B cannot read, link or
// enumerate the patients department A treats; department A and the
// hospital-wide roles can; a patient's complaint names only their own
// courses.
func TestPatientScope(t *testing.T) {
	f := newFixture(t)
	var ids []int64
	for i := 0; i < 4; i++ {
		c, _ := f.course(f.plain, 1, fmt.Sprintf("甲科患者%d", i))
		ids = append(ids, c.PatientID)
	}
	for id := int64(1); id <= ids[len(ids)-1]+2; id++ {
		code, body := f.do(f.tokenB, "GET", fmt.Sprintf("/api/v1/patients/%d/archive", id), nil)
		if code != 404 || strings.Contains(string(body), "患者%d") || strings.Contains(string(body), "138") {
			t.Errorf("department B reads patient %d: %d %s", id, code, body)
		}
	}
	for _, tok := range []string{f.tokens[model.RoleClinician], f.tokens[model.RoleDeptManager], f.tokens[model.RoleQualityOffice], f.tokens[model.RoleEvaluator]} {
		f.mustDo(tok, "GET", fmt.Sprintf("/api/v1/patients/%d/archive", ids[0]), nil, 200, nil)
	}
	// A department-B front desk cannot hand out department A's patient links.
	deskB := &model.User{InstitutionID: f.inst.ID, Username: "desk_b", Role: model.RoleFrontDesk, DeptID: &f.deptB.ID}
	if err := f.db.CreateUser(t.Context(), deskB, "Password-desk-b"); err != nil {
		t.Fatal(err)
	}
	code, body := f.do(f.login("desk_b", "Password-desk-b"), "POST", fmt.Sprintf("/api/v1/patients/%d/link", ids[0]), nil)
	f.wantError(code, body, 404, "not_found", "")
	// A patient's complaint may name only their own course.
	other, _ := f.course(f.plain, 1, "乙患者")
	var link struct{ Token string }
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", fmt.Sprintf("/api/v1/patients/%d/link", ids[0]), nil, 201, &link)
	code, body = f.do(link.Token, "POST", "/api/v1/complaints", map[string]any{"dept_id": f.deptA.ID, "course_id": other.ID, "category": "waiting", "content": "x"})
	f.wantError(code, body, 400, "invalid", "course_id")
}

// TestCSRF: a write authenticated by the cookie needs a same-origin Origin
// (or Referer) and the session's CSRF token; a bearer token needs neither.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	resp, out := f.send("", "POST", "/api/v1/auth/login", map[string]string{"username": "u_his", "password": password(model.RoleHIS)})
	var login struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.Unmarshal(out, &login); err != nil || login.CSRFToken == "" {
		t.Fatalf("login gives no CSRF token: %s", out)
	}
	cookie := "zhiliao_session=" + resp.Cookies()[0].Value
	order := func(n int) map[string]any {
		return map[string]any{"message_id": fmt.Sprintf("CS%d", n), "action": "new", "order_no": fmt.Sprintf("CS%04d", n), "patient_mrn": "MRN-CS",
			"patient_name": "钱七", "project_code": f.plain.Code, "quantity": 1, "visit_type": "outpatient", "diagnosis_code": "M54.5",
			"ordered_at": f.clock.Now(), "paid": true}
	}
	host := strings.TrimPrefix(f.srv.URL, "http://")
	evil := "http://127.0.0.1:1" // another port of the same host
	before := f.count("SELECT COUNT(*) FROM his_order")
	for i, hdr := range [][]string{
		{"Cookie", cookie},
		{"Cookie", cookie, "Origin", evil, "X-CSRF-Token", login.CSRFToken},
		{"Cookie", cookie, "Referer", evil + "/page", "X-CSRF-Token", login.CSRFToken},
		{"Cookie", cookie, "Origin", "http://" + host},
		{"Cookie", cookie, "Origin", "http://" + host, "X-CSRF-Token", "forged"},
	} {
		resp, body := f.send("", "POST", "/api/v1/his/orders", order(i), hdr...)
		f.wantError(resp.StatusCode, body, 403, "csrf", "")
	}
	if n := f.count("SELECT COUNT(*) FROM his_order"); n != before {
		t.Fatalf("a cross-site write created %d orders", n-before)
	}
	// Reads need no token; same-origin writes with it, and bearer clients, pass.
	if resp, body := f.send("", "GET", "/api/v1/me", nil, "Cookie", cookie); resp.StatusCode != 200 {
		t.Fatalf("cookie read: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.send("", "POST", "/api/v1/his/orders", order(10), "Cookie", cookie, "Origin", "http://"+host, "X-CSRF-Token", login.CSRFToken); resp.StatusCode != 200 {
		t.Fatalf("same-origin write: %d %s", resp.StatusCode, body)
	}
	f.mustDo(f.tokens[model.RoleHIS], "POST", "/api/v1/his/orders", order(11), 200, nil)
}

// TestLoginPolicy: failed logins lock the account after five tries for
// fifteen minutes, every attempt is audited with its client address, the
// address comes from X-Forwarded-For only behind a trusted proxy, sessions
// end after 30 minutes idle, and a reset password must be changed first.
func TestLoginPolicy(t *testing.T) {
	f := newFixture(t)
	try := func(pw string, hdr ...string) (int, []byte) {
		resp, body := f.send("", "POST", "/api/v1/auth/login", map[string]string{"username": "u_clinician", "password": pw}, hdr...)
		return resp.StatusCode, body
	}
	for i := 0; i < 4; i++ {
		code, body := try("Wrong-pass-1")
		f.wantError(code, body, 401, "unauthorized", "")
	}
	code, body := try("Wrong-pass-1")
	f.wantError(code, body, 423, "locked", "")
	code, body = try(password(model.RoleClinician))
	f.wantError(code, body, 423, "locked", "")
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE username = 'u_clinician' AND action IN ('login_failed', 'login_refused') AND remote = '127.0.0.1'"); n != 6 {
		t.Fatalf("%d failed attempts audited with their address, want 6", n)
	}
	f.clock.Add(16 * time.Minute)
	f.login("u_clinician", password(model.RoleClinician))
	// An unknown account's attempts are audited too.
	f.do("", "POST", "/api/v1/auth/login", map[string]string{"username": "nobody", "password": "x"})
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE username = 'nobody' AND action = 'login_failed'"); n != 1 {
		t.Fatalf("unknown account attempt audited %d times", n)
	}

	// Client addresses: X-Forwarded-For is ignored from an untrusted peer,
	// so one client cannot spread its attempts over invented addresses…
	f.api.Throttle = access.NewLoginThrottle(f.api.Clients, 3, 1000)
	got429 := false
	for i := 0; i < 6; i++ {
		code, _ := try("Wrong", "X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i))
		got429 = got429 || code == http.StatusTooManyRequests
	}
	if !got429 {
		t.Fatal("invented X-Forwarded-For addresses escaped the per-address throttle")
	}
	// …and behind a trusted proxy each client has its own bucket.
	clients, err := access.ParseTrusted("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	f.api.Clients, f.api.Throttle = clients, access.NewLoginThrottle(clients, 3, 1000)
	for i := 0; i < 3; i++ {
		for _, client := range []string{"10.1.0.1", "10.1.0.2"} {
			if code, body := try("Wrong", "X-Forwarded-For", "203.0.113.9, "+client); code == http.StatusTooManyRequests {
				t.Fatalf("client %s throttled after %d attempts behind the proxy: %s", client, i+1, body)
			}
		}
	}
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login_failed' AND remote = '10.1.0.2'"); n == 0 {
		t.Fatal("the proxied client's address is not in the audit log")
	}
	f.api.Throttle = access.NewLoginThrottle(clients, 1000, 1000)

	// Sessions end after 30 minutes idle, not while in use.
	var cid int64
	if err := f.db.QueryRowContext(context.Background(), "SELECT id FROM user_account WHERE username = 'u_clinician'").Scan(&cid); err != nil {
		t.Fatal(err)
	}
	f.mustDo(f.tokens[model.RoleSecurityAdmin], "POST", fmt.Sprintf("/api/v1/admin/users/%d/unlock", cid), nil, 200, nil)
	tok := f.login("u_clinician", password(model.RoleClinician))
	for i := 0; i < 4; i++ {
		f.clock.Add(20 * time.Minute)
		f.mustDo(tok, "GET", "/api/v1/me", nil, 200, nil)
	}
	f.clock.Add(31 * time.Minute)
	code, body = f.do(tok, "GET", "/api/v1/me", nil)
	f.wantError(code, body, 401, "unauthorized", "")

	// A reset password must be changed before anything else.
	sec := f.login("u_security_admin", password(model.RoleSecurityAdmin)) // the fixture's session idled out too
	f.mustDo(sec, "POST", fmt.Sprintf("/api/v1/admin/users/%d/reset-password", cid), map[string]string{"password": "Temporary-2026"}, 200, nil)
	tok = f.login("u_clinician", "Temporary-2026")
	code, body = f.do(tok, "GET", "/api/v1/followups?due=2026-03-02", nil)
	f.wantError(code, body, 403, "password_change_required", "")
	code, body = f.do(tok, "POST", "/api/v1/auth/password", map[string]string{"current_password": "Temporary-2026", "new_password": "u_clinician-2026X"})
	f.wantError(code, body, 400, "invalid", "password")
	f.mustDo(tok, "POST", "/api/v1/auth/password", map[string]string{"current_password": "Temporary-2026", "new_password": "Own-choice-2026"}, 204, nil)
	f.mustDo(tok, "GET", "/api/v1/followups?due=2026-03-02", nil, 200, nil)
}

// TestAuditInTransaction: a write's audit line commits with the write and
// names the entity it created; a refused write has a line of its own with
// its status; a read of patient data is audited before its answer.
func TestAuditInTransaction(t *testing.T) {
	f := newFixture(t)
	o := f.paidOrder(f.plain, 1, "孙八")
	var app model.Application
	f.mustDo(f.tokens[model.RoleClinician], "POST", "/api/v1/applications", map[string]any{"order_ids": []int64{o.ID}}, 201, &app)
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE action = 'write' AND entity = 'application' AND entity_id = ? AND status = 201", fmt.Sprint(app.ID)); n != 1 {
		t.Fatalf("%d audit lines for the application, want 1 with its id and 201", n)
	}
	code, _ := f.do(f.tokens[model.RoleClinician], "POST", "/api/v1/applications", map[string]any{"order_ids": []int64{o.ID}})
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE action = 'write' AND entity = 'application' AND status = ?", code); code != 409 || n != 1 {
		t.Fatalf("refused write %d audited %d times", code, n)
	}
	// A read of patient data is audited before its answer, with the patient.
	f.mustDo(f.tokens[model.RoleClinician], "GET", fmt.Sprintf("/api/v1/patients/%d/archive", app.PatientID), nil, 200, nil)
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE action = 'read_pii' AND entity = 'patient' AND entity_id = ? AND status = 200", fmt.Sprint(app.PatientID)); n != 1 {
		t.Fatalf("archive read audited %d times", n)
	}
}
