package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/exports"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/pdfprint"
	"github.com/zhiliao/zhiliao/reports"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testmarts.Cleanup()
	os.Exit(code)
}

// martFixture is the pilot hospital (one laser centre, three months) shipped
// into a DuckDB warehouse with its marts built, plus a second department of
// the same hospital whose mart rows are written straight into the marts, so
// that department scope has something to keep out.
type martFixture struct {
	*fixture
	jg, pf *model.Department
	etlR   *etl.Runner
	wh     *duckdb.Warehouse
}

func newMartFixture(t testing.TB) *martFixture {
	t.Helper()
	if onPostgres {
		t.Skip("the marts' tests keep their SQLite pilot core: they are about the warehouse")
	}
	ctx := context.Background()
	site := testmarts.Pilot(t)
	db := site.DB
	insts, err := db.Institutions(ctx)
	if err != nil || len(insts) != 1 {
		t.Fatal(insts, err)
	}
	depts, err := db.Departments(ctx, insts[0].ID)
	if err != nil || len(depts) != 1 {
		t.Fatal(depts, err)
	}
	mf := &martFixture{fixture: &fixture{t: t, db: db, tokens: map[string]string{}}, jg: depts[0]}
	mf.pf = &model.Department{Code: "PF", Name: "皮肤科"}
	mf.pf.InstitutionID = insts[0].ID
	if err := db.CreateDepartment(ctx, mf.pf); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{model.RoleAdmin, model.RoleDeptManager, model.RoleQualityOffice, model.RoleEvaluator, model.RoleClinician, model.RoleHIS} {
		u := &model.User{InstitutionID: insts[0].ID, Username: "m_" + role, Role: role}
		if role == model.RoleDeptManager || role == model.RoleClinician {
			st := &model.Staff{DeptID: mf.jg.ID, Code: "M-" + role, Name: "测试" + role, Role: model.StaffTherapist, Active: true}
			st.InstitutionID = insts[0].ID
			if err := db.CreateStaff(ctx, st); err != nil {
				t.Fatal(err)
			}
			u.StaffID = &st.ID
		}
		if err := db.CreateUser(ctx, u, password(role)); err != nil {
			t.Fatal(err)
		}
	}
	wh := site.Warehouse
	mf.wh, mf.etlR = wh, site.Runner
	// Ship the new department and users; the marts are already built.
	if err := (&cdc.Relay{Core: db, Warehouse: wh, Logger: testmarts.Quiet}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := wh.Exec(ctx, fmt.Sprintf(`INSERT INTO mart_workload VALUES (DATE '2026-09-01', %d, 0, 0, 'outpatient', 7, 7, 140, 7, 0, 0, 0, 0)`, mf.pf.ID)); err != nil {
		t.Fatal(err)
	}
	mf.api = api.NewServer(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	mf.api.Analytics, mf.api.Throttle = mf.etlR, access.NewLoginThrottle(mf.api.Clients, 1000, 1000)
	mf.api.Exports = &exports.Manager{Source: mf.etlR, Rules: reports.DefaultRules(), Dir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mf.srv = httptest.NewServer(mf.api.Handler())
	t.Cleanup(mf.srv.Close)
	for _, role := range []string{model.RoleAdmin, model.RoleDeptManager, model.RoleQualityOffice, model.RoleEvaluator, model.RoleClinician, model.RoleHIS} {
		mf.tokens[role] = mf.login("m_"+role, password(role))
	}
	return mf
}

type martJSON struct {
	Mart, Title, From, To, Grain string
	Stamp                        int64
	Columns                      []struct{ Name, Title, Type string }
	Rows                         [][]any
	RowCount                     int64 `json:"row_count"`
	Page                         int
	PageSize                     int `json:"page_size"`
	Total                        int64
}

// get sends a GET with headers and returns the response and body.
func (f *fixture) get(token, path string, header ...string) (*http.Response, []byte) {
	f.t.Helper()
	return f.send(token, "GET", path, nil, header...)
}

// TestMartFormats: one query read as JSON, CSV and Arrow gives the same
// rows; JSON carries Chinese titles; CSV opens with a BOM and Chinese headers.
func TestMartFormats(t *testing.T) {
	f := newMartFixture(t)
	// Readiness says the marts have been built (the fixture's are).
	f.api.SetReady(true)
	if _, body := f.get("", "/readyz"); !strings.Contains(string(body), `"marts":"built"`) {
		t.Errorf("readyz %s", body)
	}
	path := fmt.Sprintf("/api/v1/marts/workload?from=2026-09-01&to=2026-10-31&grain=month&group_by=staff&measures=sessions,treatment_minutes&dept=%d", f.jg.ID)
	resp, body := f.get(f.tokens[model.RoleQualityOffice], path)
	var j martJSON
	if err := json.Unmarshal(body, &j); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if j.Grain != "month" || len(j.Columns) != 5 || j.Columns[0].Title != "月份" || j.Columns[2].Name != "staff_name" ||
		j.Columns[3].Title != "治疗人次" || j.RowCount != int64(len(j.Rows)) || len(j.Rows) < 4 {
		t.Fatalf("json %+v", j)
	}
	var wantSessions float64
	for _, row := range j.Rows {
		wantSessions += row[3].(float64)
		if row[2] == "" || !(row[0] == "2026-09-01" || row[0] == "2026-10-01") {
			t.Errorf("row %v", row)
		}
	}
	if got := count(t, f.wh, fmt.Sprintf("SELECT sum(sessions) FROM mart_workload WHERE dept_id = %d AND day BETWEEN DATE '2026-09-01' AND DATE '2026-10-31'", f.jg.ID)); float64(got) != wantSessions {
		t.Errorf("json sums %v sessions, mart %d", wantSessions, got)
	}

	// Arrow: the same rows, read back with the Arrow reader.
	resp, body = f.get(f.tokens[model.RoleQualityOffice], path, "Accept", "application/vnd.apache.arrow.stream")
	if resp.Header.Get("Content-Type") != "application/vnd.apache.arrow.stream" {
		t.Fatalf("arrow content type %q", resp.Header.Get("Content-Type"))
	}
	rd, err := ipc.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := warehouse.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(j.Rows) {
		t.Fatalf("arrow %d rows, json %d", len(rows), len(j.Rows))
	}
	for i, row := range rows {
		if row[0].(time.Time).Format("2006-01-02") != j.Rows[i][0] || float64(row[1].(int64)) != j.Rows[i][1] ||
			row[2] != j.Rows[i][2] || float64(row[3].(int64)) != j.Rows[i][3] || float64(row[4].(int64)) != j.Rows[i][4] {
			t.Errorf("row %d: arrow %v, json %v", i, row, j.Rows[i])
		}
	}

	// CSV: BOM, Chinese headers, the same cells.
	resp, body = f.get(f.tokens[model.RoleQualityOffice], path+"&format=csv")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || !bytes.HasPrefix(body, []byte("\ufeff")) ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv headers %v", resp.Header)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "月份,人员,人员名称,治疗人次,治疗时长(分钟)" || len(recs) != len(j.Rows)+1 {
		t.Fatalf("csv %v", recs[:2])
	}
	for i, rec := range recs[1:] {
		if rec[0] != j.Rows[i][0] || rec[2] != j.Rows[i][2] || rec[3] != fmt.Sprint(j.Rows[i][3]) {
			t.Errorf("csv row %v, json %v", rec, j.Rows[i])
		}
	}
}

func count(t *testing.T, wh warehouse.Warehouse, q string) int64 {
	t.Helper()
	rr, err := wh.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := warehouse.ReadAll(rr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := rows[0][0].(int64)
	return n
}

// TestMartScope: a department manager sees only their department, asking for
// another is 403, and the quality office sees every department.
func TestMartScope(t *testing.T) {
	f := newMartFixture(t)
	q := "/api/v1/marts/workload?from=2026-09-01&to=2026-09-01&grain=all&group_by=dept&measures=sessions"
	var mgr, qo martJSON
	f.mustDo(f.tokens[model.RoleDeptManager], "GET", q, nil, 200, &mgr)
	f.mustDo(f.tokens[model.RoleQualityOffice], "GET", q, nil, 200, &qo)
	if len(mgr.Rows) != 1 || mgr.Rows[0][0] != float64(f.jg.ID) {
		t.Errorf("manager sees %v", mgr.Rows)
	}
	if len(qo.Rows) != 2 || qo.Rows[1][0] != float64(f.pf.ID) || qo.Rows[1][2] != float64(7) || qo.Rows[1][1] != "皮肤科" {
		t.Errorf("quality office sees %v", qo.Rows)
	}
	code, body := f.do(f.tokens[model.RoleDeptManager], "GET", fmt.Sprintf("%s&dept=%d", q, f.pf.ID), nil)
	f.wantError(code, body, 403, model.EFORBIDDEN, "")
	code, body = f.do(f.tokens[model.RoleDeptManager], "GET", fmt.Sprintf("/api/v1/marts/workload/detail?from=2026-09-01&to=2026-09-01&dept=%d,%d", f.jg.ID, f.pf.ID), nil)
	f.wantError(code, body, 403, model.EFORBIDDEN, "")
	code, body = f.do(f.tokens[model.RoleClinician], "GET", q, nil)
	f.wantError(code, body, 403, model.EFORBIDDEN, "")
	code, _ = f.do("", "GET", q, nil)
	if code != 401 {
		t.Errorf("anonymous: %d", code)
	}
	var dims etl.Dims
	f.mustDo(f.tokens[model.RoleDeptManager], "GET", "/api/v1/dimensions", nil, 200, &dims)
	if len(dims.Departments) != 1 || dims.Departments[0].ID != f.jg.ID || len(dims.Projects) == 0 || len(dims.Staff) == 0 {
		t.Errorf("manager's dimensions %+v", dims)
	}
}

// TestMartBadParams: each bad parameter is a 400 that names it.
func TestMartBadParams(t *testing.T) {
	f := newMartFixture(t)
	tok := f.tokens[model.RoleAdmin]
	for _, c := range []struct{ query, field string }{
		{"from=2026-13-01&to=2026-09-30", "from"},
		{"from=2026-09-01&to=yesterday", "to"},
		{"from=2026-09-30&to=2026-09-01", "to"},
		{"from=2026-09-01&to=2026-09-30&grain=hour", "grain"},
		{"from=2026-09-01&to=2026-09-30&measures=sessions,income", "measures"},
		{"from=2026-09-01&to=2026-09-30&group_by=item", "group_by"},
		{"from=2026-09-01&to=2026-09-30&dept=abc", "dept"},
		{"from=2026-09-01&to=2026-09-30&format=xml", "format"},
		{"from=2026-09-01&to=2026-09-30&color=red", "color"},
	} {
		code, body := f.do(tok, "GET", "/api/v1/marts/workload?"+c.query, nil)
		f.wantError(code, body, 400, model.EINVALID, c.field)
	}
	code, body := f.do(tok, "GET", "/api/v1/marts/project?staff=1", nil)
	f.wantError(code, body, 400, model.EINVALID, "staff")
	code, body = f.do(tok, "GET", "/api/v1/marts/workload/detail?page_size=5000", nil)
	f.wantError(code, body, 400, model.EINVALID, "page_size")
	code, body = f.do(tok, "GET", "/api/v1/marts/income", nil)
	f.wantError(code, body, 404, model.ENOTFOUND, "")
}

// TestMartCache: the response is cached and its ETag holds until the next
// ETL run changes the mart (a change that reaches the mart any other way is
// not seen before then); a matching If-None-Match gets 304; after a run
// over new events the answer and its ETag change.
func TestMartCache(t *testing.T) {
	f := newMartFixture(t)
	ctx := context.Background()
	tok := f.tokens[model.RoleDeptManager]
	path := "/api/v1/marts/revenue?from=2026-08-01&to=2026-12-31&grain=all&measures=charges_fen,paid_fen"
	var before martJSON
	r1, b1 := f.get(tok, path)
	etag := r1.Header.Get("ETag")
	if err := json.Unmarshal(b1, &before); err != nil || etag == "" || r1.StatusCode != 200 || len(before.Rows) != 1 {
		t.Fatalf("%d etag %q %s", r1.StatusCode, etag, b1)
	}
	if r2, b2 := f.get(tok, path, "If-None-Match", etag); r2.StatusCode != http.StatusNotModified || len(b2) != 0 {
		t.Fatalf("revalidation: %d %s", r2.StatusCode, b2)
	}
	if err := f.wh.Exec(ctx, fmt.Sprintf(`INSERT INTO mart_revenue VALUES (DATE '2026-09-02', %d, 0, 'outpatient', 100, 0, 100, 0, 1, 0, 0)`, f.jg.ID)); err != nil {
		t.Fatal(err)
	}
	if r3, b3 := f.get(tok, path); r3.Header.Get("ETag") != etag || !bytes.Equal(b3, b1) {
		t.Fatalf("before a run the cached answer holds: %s", b3)
	}

	// A new paid order from the HIS, shipped and built by an incremental run.
	var code string
	var price int64
	if err := f.db.QueryRowContext(ctx, "SELECT code, unit_price_fen FROM project WHERE dept_id = ? ORDER BY id LIMIT 1", f.jg.ID).Scan(&code, &price); err != nil {
		t.Fatal(err)
	}
	var o model.Order
	f.mustDo(f.tokens[model.RoleHIS], "POST", "/api/v1/his/orders", map[string]any{
		"message_id": "CACHE-1", "action": "new", "order_no": "RX-CACHE-1", "patient_mrn": "MRN-CACHE-1",
		"patient_name": "缓存测试", "gender": "F", "project_code": code, "quantity": 2, "visit_type": "outpatient",
		"diagnosis_code": "L70.0", "diagnosis_name": "痤疮", "ordered_at": time.Date(2026, 11, 20, 9, 0, 0, 0, model.Local), "paid": true}, 200, &o)
	if err := (&cdc.Relay{Core: f.db, Warehouse: f.wh}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.etlR.Run(ctx, etl.Options{Job: "incremental"}); err != nil {
		t.Fatal(err)
	}
	r4, b4 := f.get(tok, path, "If-None-Match", etag)
	var after martJSON
	if err := json.Unmarshal(b4, &after); err != nil || r4.StatusCode != 200 || r4.Header.Get("ETag") == etag {
		t.Fatalf("after a run: %d %q %s", r4.StatusCode, r4.Header.Get("ETag"), b4)
	}
	if after.Rows[0][1].(float64) != before.Rows[0][1].(float64)+float64(2*price) || after.Rows[0][0].(float64) != before.Rows[0][0].(float64)+100 {
		t.Errorf("before %v, after %v, order of %d fen", before.Rows, after.Rows, 2*price)
	}
}

// TestMartDetail: the detail behind a cell has as many rows as the cell
// counts, pages through them, masks patient names for evaluators only, and
// every read is in the audit log with its filters and row count.
func TestMartDetail(t *testing.T) {
	f := newMartFixture(t)
	var cell martJSON
	f.mustDo(f.tokens[model.RoleQualityOffice], "GET", "/api/v1/marts/workload?from=2026-09-07&to=2026-09-07&grain=day&group_by=staff&measures=sessions", nil, 200, &cell)
	if len(cell.Rows) == 0 {
		t.Fatal("no workload on 2026-09-07")
	}
	var staff, sessions int64
	for _, row := range cell.Rows {
		if n := int64(row[3].(float64)); n > sessions {
			staff, sessions = int64(row[1].(float64)), n
		}
	}
	path := fmt.Sprintf("/api/v1/marts/workload/detail?from=2026-09-07&to=2026-09-07&staff=%d&page_size=3", staff)
	seen := map[any]bool{}
	for page := 1; ; page++ {
		var d martJSON
		f.mustDo(f.tokens[model.RoleQualityOffice], "GET", fmt.Sprintf("%s&page=%d", path, page), nil, 200, &d)
		if d.Total != sessions || d.PageSize != 3 {
			t.Fatalf("page %d: total %d page_size %d, cell %d", page, d.Total, d.PageSize, sessions)
		}
		if len(d.Rows) == 0 {
			break
		}
		for _, row := range d.Rows {
			seen[row[8]] = true
			if name := row[10].(string); name == "" || strings.Contains(name, "*") {
				t.Errorf("the quality office sees patient name %q", name)
			}
		}
	}
	if int64(len(seen)) != sessions {
		t.Errorf("pages gave %d sessions, cell %d", len(seen), sessions)
	}
	// Staff whose work needs identity (the department's manager here) see
	// the MRN beside the name, from the core (the warehouse holds none).
	var mgr martJSON
	f.mustDo(f.tokens[model.RoleDeptManager], "GET", path, nil, 200, &mgr)
	if len(mgr.Rows) == 0 || len(mgr.Columns) < 12 || mgr.Columns[11].Title != "病案号" {
		t.Fatalf("the manager's detail columns %+v", mgr.Columns)
	}
	for _, row := range mgr.Rows {
		var mrn string
		if err := f.db.QueryRowContext(context.Background(), "SELECT mrn FROM patient WHERE id = ?", int64(row[9].(float64))).Scan(&mrn); err != nil {
			t.Fatal(err)
		}
		if row[11].(string) != mrn || mrn == "" || strings.Contains(row[10].(string), "*") {
			t.Errorf("the manager sees %q %q, the core has MRN %q", row[10], row[11], mrn)
		}
	}
	var ev martJSON
	f.mustDo(f.tokens[model.RoleEvaluator], "GET", path, nil, 200, &ev)
	for _, row := range ev.Rows {
		if name := row[10].(string); !strings.Contains(name, "*") || ev.Columns[10].Title != "患者姓名" {
			t.Errorf("evaluator sees patient name %q", name)
		}
	}
	for _, c := range ev.Columns {
		if c.Title == "病案号" {
			t.Error("the evaluator's detail has an MRN column")
		}
	}
	// The system administrator keeps the system, not the records: masked too.
	var ad martJSON
	f.mustDo(f.tokens[model.RoleAdmin], "GET", path, nil, 200, &ad)
	for _, row := range ad.Rows {
		if name := row[10].(string); !strings.Contains(name, "*") {
			t.Errorf("admin sees patient name %q", name)
		}
	}
	var n int
	if err := f.db.QueryRowContext(context.Background(), "SELECT count(*) FROM audit_log WHERE action = 'read_pii' AND role = ? AND detail LIKE ?",
		model.RoleEvaluator, fmt.Sprintf("%%staff=%d%%rows=%d", staff, len(ev.Rows))).Scan(&n); err != nil || n != 1 {
		t.Errorf("audit lines for the evaluator's read: %d %v", n, err)
	}
	// The CSV download is every row of the selection, streamed, not the page
	// on screen: a month of the department is more than a page of 50.
	month := fmt.Sprintf("/api/v1/marts/workload/detail?from=2026-09-01&to=2026-09-30&dept=%d", f.jg.ID)
	var firstPage martJSON
	f.mustDo(f.tokens[model.RoleQualityOffice], "GET", month, nil, 200, &firstPage)
	resp, csvBody := f.get(f.tokens[model.RoleQualityOffice], month+"&format=csv")
	lines := strings.Count(strings.TrimSpace(string(csvBody)), "\n") // the header, then one line per row
	if resp.StatusCode != 200 || firstPage.Total <= 50 || int64(lines) != firstPage.Total || resp.Header.Get("X-Total-Count") != fmt.Sprint(firstPage.Total) {
		t.Errorf("all-rows CSV: %d, %d lines for %d rows (page of %d)", resp.StatusCode, lines, firstPage.Total, len(firstPage.Rows))
	}
}

// TestExports: an export job runs to done with its progress, downloads as a
// workbook a spreadsheet library opens, keeps department scope, masks
// patient names for evaluators, is audited with its filters and row count,
// and is visible only to its owner.
func TestExports(t *testing.T) {
	f := newMartFixture(t)
	wait := func(tok, id string) map[string]any {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var j map[string]any
			f.mustDo(tok, "GET", "/api/v1/exports/"+id, nil, 200, &j)
			if j["status"] != "queued" && j["status"] != "running" {
				return j
			}
		}
		t.Fatal("export did not finish")
		return nil
	}
	qo := f.tokens[model.RoleQualityOffice]
	var job map[string]any
	f.mustDo(qo, "POST", "/api/v1/exports", map[string]any{"report": "workload", "from": "2026-09-01", "to": "2026-10-31"}, 202, &job)
	done := wait(qo, job["id"].(string))
	if done["status"] != "done" || done["percent"] != float64(100) || done["rows"].(float64) < 10 {
		t.Fatalf("job %v", done)
	}
	resp, body := f.get(qo, "/api/v1/exports/"+job["id"].(string)+"/file")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "filename*=UTF-8''") {
		t.Fatalf("file: %d %v", resp.StatusCode, resp.Header)
	}
	wb, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sheets := wb.GetSheetList(); strings.Join(sheets, ",") != "人员工作量,项目工作量,每日工作量,说明" {
		t.Errorf("sheets %v", sheets)
	}
	if v, _ := wb.GetCellValue("说明", "B6"); !strings.Contains(v, "激光治疗中心") || !strings.Contains(v, "皮肤科") {
		t.Errorf("quality office scope %q", v)
	}
	code, b := f.do(f.tokens[model.RoleDeptManager], "GET", "/api/v1/exports/"+job["id"].(string), nil)
	f.wantError(code, b, 404, model.ENOTFOUND, "")

	// A small export can be waited for.
	var quick map[string]any
	f.mustDo(qo, "POST", "/api/v1/exports?wait=30", map[string]any{"report": "project", "from": "2026-09-01", "to": "2026-09-30"}, 202, &quick)
	if quick["status"] != "done" {
		t.Errorf("waited export %v", quick)
	}
	code, b = f.do(qo, "POST", "/api/v1/exports?wait=600", map[string]any{"report": "project", "from": "2026-09-01", "to": "2026-09-30"})
	f.wantError(code, b, 400, model.EINVALID, "wait")

	// A department manager exports their own department only.
	mgr := f.tokens[model.RoleDeptManager]
	code, b = f.do(mgr, "POST", "/api/v1/exports", map[string]any{"report": "workload", "from": "2026-09-01", "to": "2026-10-31", "dept": []int64{f.pf.ID}})
	f.wantError(code, b, 403, model.EFORBIDDEN, "")
	f.mustDo(mgr, "POST", "/api/v1/exports", map[string]any{"report": "dept-monthly", "from": "2026-09-01", "to": "2026-09-30"}, 202, &job)
	if done := wait(mgr, job["id"].(string)); done["status"] != "done" {
		t.Fatalf("manager's job %v", done)
	}
	_, body = f.get(mgr, "/api/v1/exports/"+job["id"].(string)+"/file")
	wb, _ = excelize.OpenReader(bytes.NewReader(body))
	if v, _ := wb.GetCellValue("说明", "B6"); v != "激光治疗中心" {
		t.Errorf("manager scope %q", v)
	}

	// The evaluator's evidence has masked patient names.
	ev := f.tokens[model.RoleEvaluator]
	f.mustDo(ev, "POST", "/api/v1/exports", map[string]any{"report": "emr-0601", "from": "2026-08-24", "to": "2026-11-22"}, 202, &job)
	if done := wait(ev, job["id"].(string)); done["status"] != "done" {
		t.Fatalf("evaluator's job %v", done)
	}
	_, body = f.get(ev, "/api/v1/exports/"+job["id"].(string)+"/file")
	wb, _ = excelize.OpenReader(bytes.NewReader(body))
	rows, _ := wb.GetRows("抽查记录")
	const head = 3 // the title block's rows above the header
	if len(rows) < head+2 {
		t.Fatalf("sample sheet %v", rows)
	}
	col := slices.Index(rows[head], "患者姓名")
	if col < 0 {
		t.Fatalf("sample sheet header %v", rows[head])
	}
	for _, r := range rows[head+1:] {
		if !strings.Contains(r[col], "*") {
			t.Errorf("evaluator's evidence names %q", r[col])
		}
	}
	// The evaluator draws the sample again with a seed of their own and a
	// smaller stratum: 说明 names the seed, and the sample shrinks.
	f.mustDo(ev, "POST", "/api/v1/exports", map[string]any{"report": "emr-0601", "from": "2026-08-24", "to": "2026-11-22",
		"sample_seed": 7, "sample_rows": 2}, 202, &job)
	if done := wait(ev, job["id"].(string)); done["status"] != "done" {
		t.Fatalf("evaluator's reseeded job %v", done)
	}
	_, body = f.get(ev, "/api/v1/exports/"+job["id"].(string)+"/file")
	wb, _ = excelize.OpenReader(bytes.NewReader(body))
	small, _ := wb.GetRows("抽查记录")
	notes, _ := wb.GetRows(wb.GetSheetList()[len(wb.GetSheetList())-1])
	seeded := false
	for _, r := range notes {
		seeded = seeded || len(r) > 1 && strings.Contains(r[1], "抽样种子 7（")
	}
	if !seeded || len(small) >= len(rows) || len(small) < head+2 {
		t.Errorf("reseeded sample: seed on 说明 %v, %d rows against %d", seeded, len(small), len(rows))
	}

	// Bad requests, and the audit.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"report": "nope", "from": "2026-09-01", "to": "2026-09-30"}, "report"},
		{map[string]any{"report": "workload", "from": "2026-09-30", "to": "2026-09-01"}, "to"},
		{map[string]any{"report": "workload", "from": "09/01/2026", "to": "2026-09-30"}, "from"},
		{map[string]any{"report": "emr-0601", "from": "2026-09-01", "to": "2026-09-30", "sample_rows": 5000}, "sample_rows"},
	} {
		code, b := f.do(qo, "POST", "/api/v1/exports", c.body)
		f.wantError(code, b, 400, model.EINVALID, c.field)
	}
	f.mustDo(qo, "POST", "/api/v1/exports", map[string]any{"report": "workload", "from": "2020-01-01", "to": "2020-01-31"}, 202, &job)
	if done := wait(qo, job["id"].(string)); done["status"] != "failed" || !strings.Contains(done["error"].(string), "没有数据") {
		t.Errorf("empty export %v", done)
	}
	code, b = f.do(qo, "GET", "/api/v1/exports/"+job["id"].(string)+"/file", nil)
	f.wantError(code, b, 409, model.ECONFLICT, "")
	var n int
	f.db.QueryRowContext(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'export' AND entity_id = 'emr-0601' AND role = 'evaluator'
		AND detail LIKE '%status=done%deidentified=true rows=%'`).Scan(&n)
	if n != 2 { // the evidence, and its reseeded sample
		t.Errorf("evaluator's 2 exports audited %d times", n)
	}
	// The same report as a PDF, printed by headless Chromium; a format it
	// does not know is refused naming the field.
	code, body = f.do(qo, "POST", "/api/v1/exports", map[string]any{"report": "workload", "from": "2026-09-01", "to": "2026-10-31", "format": "docx"})
	f.wantError(code, body, 400, model.EINVALID, "format")
	if _, err := pdfprint.Browser(); err == nil {
		f.mustDo(qo, "POST", "/api/v1/exports", map[string]any{"report": "workload", "from": "2026-09-01", "to": "2026-10-31", "format": "pdf"}, 202, &job)
		if done := wait(qo, job["id"].(string)); done["status"] != "done" {
			t.Fatalf("pdf job %v", done)
		}
		resp, pdf := f.get(qo, "/api/v1/exports/"+job["id"].(string)+"/file")
		if resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), ".pdf") {
			t.Errorf("pdf download: %v, %d bytes", resp.Header, len(pdf))
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("no Chromium in CI")
	}
}

// TestScheduledReports: reports a schedule wrote are listed and downloaded
// by the quality office, refused to a department manager, and a name that
// climbs out of the folder is not found.
func TestScheduledReports(t *testing.T) {
	f := newMartFixture(t)
	s := &exports.Schedule{Manager: f.api.Exports, Dims: f.etlR.Dimensions, Logger: testmarts.Quiet}
	if _, err := s.RunMonthly(context.Background(), time.Date(2026, 10, 1, 6, 0, 0, 0, model.Local)); err != nil {
		t.Fatal(err)
	}
	qo := f.tokens[model.RoleQualityOffice]
	var list struct {
		Items []exports.Scheduled
	}
	f.mustDo(qo, "GET", "/api/v1/reports/scheduled", nil, 200, &list)
	if len(list.Items) != len(exports.MonthlyReports) || list.Items[0].Status != exports.Done {
		t.Fatalf("scheduled %+v", list)
	}
	resp, body := f.get(qo, "/api/v1/reports/scheduled/"+list.Items[0].Name)
	if _, err := excelize.OpenReader(bytes.NewReader(body)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("download %s: %d %v", list.Items[0].Name, resp.StatusCode, err)
	}
	code, b := f.do(f.tokens[model.RoleDeptManager], "GET", "/api/v1/reports/scheduled", nil)
	f.wantError(code, b, 403, model.EFORBIDDEN, "")
	code, b = f.do(qo, "GET", "/api/v1/reports/scheduled/..%2Fjobs%2Fx.xlsx", nil)
	f.wantError(code, b, 404, model.ENOTFOUND, "")
}
