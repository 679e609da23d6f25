package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/exports"
	"github.com/zhiliao/zhiliao/gen/cashier"
	"github.com/zhiliao/zhiliao/internal/testclock"
	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/vault"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
)

// fixture is a hospital with two departments, a user of every role and a
// real server on a loopback port.
type fixture struct {
	t      testing.TB
	where  string // the core: a SQLite file or a PostgreSQL DSN
	db     *store.DB
	his    *cashier.Simulator
	clock  *testclock.Clock
	srv    *httptest.Server
	api    *api.Server
	inst   *model.Institution
	deptA  *model.Department // 康复医学科, where the dept-bound users work
	deptB  *model.Department
	staffA *model.Staff
	staffB *model.Staff
	// managerA is department A's manager's own staff record.
	managerA *model.Staff
	roomA    *model.Room
	plain    *model.Project
	// consentText is the laser project's consent text in force.
	consentText *model.ConsentTemplate
	laser       *model.Project
	tokens      map[string]string // role → token (dept-bound roles in dept A)
	tokenB      string            // clinician of dept B
	n           int
	wh          *duckdb.Warehouse
	etl         *etl.Runner
}

var day0 = time.Date(2026, 3, 2, 7, 30, 0, 0, model.Local)

// fixtureRoles are the roles the fixture has an account of, with the
// department-bound ones in department A.
var fixtureRoles = []string{model.RoleAdmin, model.RoleSecurityAdmin, model.RoleAuditAdmin, model.RoleDeptManager, model.RoleQualityOffice,
	model.RoleEvaluator, model.RoleClinician, model.RoleFrontDesk, model.RoleHIS}

// password is a fixture account's password (the policy: 10 characters of
// three classes).
func password(role string) string { return "Password-" + role }

// onPostgres: this run is TestAPIOnPostgres's child, every fixture's core
// on a fresh PostgreSQL database.
var onPostgres = os.Getenv("ZHILIAO_API_ENGINE") == "postgres"

// TestAPIOnPostgres runs this package's tests again with the fixtures' core
// on PostgreSQL: the API's reads and writes through the store, and the SQL
// of the services no store test reaches, on the second engine. (Tests on the
// pilot's marts keep their SQLite core: they are about the warehouse.)
func TestAPIOnPostgres(t *testing.T) {
	if onPostgres {
		t.Skip("running on PostgreSQL already")
	}
	testpg.ServerDSN(t)
	cmd := exec.Command(os.Args[0], "-test.count=1", "-test.skip=^TestAPIOnPostgres$", "-test.timeout=15m")
	cmd.Env = append(os.Environ(), "ZHILIAO_API_ENGINE=postgres")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the API suite on PostgreSQL failed: %v\n%s", err, out)
	}
}

func newFixture(t testing.TB) *fixture { return newFixtureOn(t, onPostgres) }

// newFixtureOn is newFixture with the core on PostgreSQL or SQLite.
func newFixtureOn(t testing.TB, postgres bool) *fixture {
	t.Helper()
	ctx := context.Background()
	where := filepath.Join(t.TempDir(), "core.db")
	if postgres {
		where = testpg.Core(t)
	}
	// Keyed as a service's core is: phones and ID numbers sealed, records
	// signed with SM2 (store/vault.go).
	keyFile := filepath.Join(t.TempDir(), "master.key")
	if err := vault.CreateMasterFile(keyFile); err != nil {
		t.Fatal(err)
	}
	master, err := vault.LoadMaster(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, where, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), FilesDir: t.TempDir(), Master: master})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{t: t, where: where, db: db, clock: testclock.New(day0), tokens: map[string]string{}}
	db.Now = f.clock.Now
	db.Policy.HashCost = bcrypt.MinCost // each hash at the default cost takes seconds under the race detector
	f.his = &cashier.Simulator{Status: db.OrderPaymentStatus}
	db.HIS = f.his
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f.inst = &model.Institution{Code: "H001", Name: "示例医院"}
	must(db.CreateInstitution(ctx, f.inst))
	mk := func(code, name string) *model.Department {
		d := &model.Department{Code: code, Name: name}
		d.InstitutionID = f.inst.ID
		must(db.CreateDepartment(ctx, d))
		return d
	}
	f.deptA, f.deptB = mk("KF", "康复医学科"), mk("PF", "皮肤科")
	staff := func(d *model.Department, code string) *model.Staff {
		s := &model.Staff{DeptID: d.ID, Code: code, Name: "治疗师" + code, Role: model.StaffTherapist, Active: true}
		s.InstitutionID = f.inst.ID
		must(db.CreateStaff(ctx, s))
		return s
	}
	f.staffA, f.staffB = staff(f.deptA, "TA1"), staff(f.deptB, "TB1")
	f.roomA = &model.Room{DeptID: f.deptA.ID, Code: "RA", Name: "治疗室", Beds: 2}
	f.roomA.InstitutionID = f.inst.ID
	must(db.CreateRoom(ctx, f.roomA))
	f.plain = &model.Project{DeptID: f.deptA.ID, Code: "KF001", Name: "运动疗法", Category: "rehab", UnitPriceFen: 4500, Minutes: 30,
		CourseSessions: 10, FollowupDays: "1,7", EMRScope: true, SmartScope: true, Precautions: "穿运动鞋", Active: true,
		SelfCancelCutoffMinutes: 15} // the fixture's clock reads 07:30 and its slots start at 08:00
	f.plain.InstitutionID = f.inst.ID
	must(db.CreateProject(ctx, f.plain))
	f.laser = &model.Project{DeptID: f.deptA.ID, Code: "KF009", Name: "激光治疗", Category: "laser", UnitPriceFen: 28000, Minutes: 20,
		CourseSessions: 3, NeedsConsent: true, NeedsImages: true, FollowupDays: "7", ConsentTemplate: "LASER@v1", Precautions: "治疗后注意防晒", Active: true}
	f.laser.InstitutionID = f.inst.ID
	must(db.CreateProject(ctx, f.laser))
	f.consentText, err = db.SaveConsentTemplate(ctx, model.NewConsentTemplate{ProjectID: f.laser.ID, Title: "知情同意书（激光治疗）",
		Body: "一、治疗目的与方法：激光作用于皮肤靶组织，改善色素问题。二、可能的风险：红斑、水肿、水疱、色素沉着，极少数遗留瘢痕。三、须知：治疗后严格防晒。我已阅读并理解全部内容，自愿接受治疗。"})
	must(err)
	f.managerA = staff(f.deptA, "MA1")
	for _, role := range fixtureRoles {
		u := &model.User{InstitutionID: f.inst.ID, Username: "u_" + role, Role: role}
		switch role {
		case model.RoleClinician:
			u.StaffID = &f.staffA.ID
		case model.RoleDeptManager:
			u.StaffID = &f.managerA.ID
		}
		must(db.CreateUser(ctx, u, password(role)))
	}
	ub := &model.User{InstitutionID: f.inst.ID, Username: "u_clinician_b", Role: model.RoleClinician, StaffID: &f.staffB.ID}
	must(db.CreateUser(ctx, ub, "Password-b-clinician"))
	f.api = api.NewServer(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	wh, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "warehouse.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	f.wh = wh
	f.etl = &etl.Runner{Warehouse: wh, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.api.Analytics = f.etl
	f.api.Exports = &exports.Manager{Source: f.etl, Rules: reports.DefaultRules(), Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.api.Throttle = access.NewLoginThrottle(f.api.Clients, 1000, 1000)
	f.srv = httptest.NewServer(f.api.Handler())
	t.Cleanup(f.srv.Close)
	for _, role := range fixtureRoles {
		f.tokens[role] = f.login("u_"+role, password(role))
	}
	f.tokenB = f.login("u_clinician_b", "Password-b-clinician")
	return f
}

func (f *fixture) login(user, pass string) string {
	f.t.Helper()
	var resp struct{ Token string }
	f.mustDo("", "POST", "/api/v1/auth/login", map[string]string{"username": user, "password": pass}, 200, &resp)
	return resp.Token
}

// do sends a JSON request with a bearer token and returns status and body.
func (f *fixture) do(token, method, path string, body any) (int, []byte) {
	f.t.Helper()
	resp, out := f.send(token, method, path, body)
	return resp.StatusCode, out
}

// send sends a request with a bearer token, a JSON body and extra headers
// (name, value pairs) and returns the response and its body; a 5xx fails
// the test.
func (f *fixture) send(token, method, path string, body any, header ...string) (*http.Response, []byte) {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		f.t.Fatalf("%s %s: %d is a bug: %s", method, path, resp.StatusCode, out)
	}
	return resp, out
}

// mustDo sends a request, requires the status and decodes the body into out.
func (f *fixture) mustDo(token, method, path string, body any, status int, out any) {
	f.t.Helper()
	code, b := f.do(token, method, path, body)
	if code != status {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

type apiError struct {
	Error struct{ Code, Message, Rule, Field string }
}

// wantError checks status and error code (and field or rule when given).
func (f *fixture) wantError(code int, body []byte, status int, errCode, fieldOrRule string) {
	f.t.Helper()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || code != status || e.Error.Code != errCode || e.Error.Message == "" {
		f.t.Fatalf("want %d %s, got %d %s", status, errCode, code, body)
	}
	if fieldOrRule != "" && e.Error.Field != fieldOrRule && e.Error.Rule != fieldOrRule {
		f.t.Fatalf("want field/rule %s, got %s", fieldOrRule, body)
	}
}

// paidOrder sends a paid HIS order through the API for a new patient.
func (f *fixture) paidOrder(p *model.Project, qty int64, name string) *model.Order {
	f.t.Helper()
	f.n++
	var o model.Order
	f.mustDo(f.tokens[model.RoleHIS], "POST", "/api/v1/his/orders", map[string]any{
		"message_id": fmt.Sprintf("M%d", f.n), "action": "new", "order_no": fmt.Sprintf("RX%04d", f.n), "patient_mrn": fmt.Sprintf("MRN%04d", f.n),
		"patient_name": name, "gender": "F", "phone": "13812345678", "id_number": "11010519491231002X",
		"project_code": p.Code, "quantity": qty, "visit_type": "outpatient", "diagnosis_code": "M54.5", "diagnosis_name": "腰痛",
		"ordered_at": f.clock.Now(), "paid": true}, 200, &o)
	return &o
}

// course takes a paid order to a planned course through the API.
func (f *fixture) course(p *model.Project, qty int64, name string) (*model.Course, *model.Order) {
	f.t.Helper()
	o := f.paidOrder(p, qty, name)
	cl := f.tokens[model.RoleClinician]
	var app model.Application
	f.mustDo(cl, "POST", "/api/v1/applications", map[string]any{"order_ids": []int64{o.ID}}, 201, &app)
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/applications/%d/assessments", app.ID), map[string]any{"kind": "initial", "answers": map[string]string{"pain": "5"}, "score": 50, "sign": true}, 201, nil)
	var c model.Course
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/applications/%d/course", app.ID), nil, 201, &c)
	return &c, o
}

// slots rosters the dept A therapist today.
func (f *fixture) slots(capacity int64) []*model.Slot {
	f.t.Helper()
	var resp struct {
		Slots []*model.Slot
	}
	shift, start, end := "am", "08:00", "11:00"
	f.mustDo(f.tokens[model.RoleDeptManager], "POST", "/api/v1/rosters", map[string]any{"dept_id": f.deptA.ID, "staff_id": f.staffA.ID, "room_id": f.roomA.ID,
		"day": model.DayOf(f.clock.Now()), "shift": shift, "start": start, "end": end, "slot_minutes": 30, "capacity": capacity}, 201, &resp)
	return resp.Slots
}

func (f *fixture) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// newFixtureServer serves f's API on a second port, built after the test
// changed its settings (the rate limiter reads them when the router is built).
func newFixtureServer(t testing.TB, f *fixture) string {
	srv := httptest.NewServer(f.api.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// tamper changes the core behind the service's back, as someone holding
// the database would.
func (f *fixture) tamper(query string) {
	f.t.Helper()
	driver := "sqlite"
	if store.IsPostgres(f.where) {
		driver = "pgx"
	}
	raw, err := sql.Open(driver, f.where)
	if err != nil {
		f.t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(query); err != nil {
		f.t.Fatal(err)
	}
}
