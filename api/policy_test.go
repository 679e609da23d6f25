package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/dashboards"
	"github.com/zhiliao/zhiliao/frontline"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// TestOneRuleEveryDoor: who sees what is one row of policy.Roles. The
// department manager's reach, widened to the institution in that one place,
// opens the core's lists on the API, the dashboard page's scope, the export
// workbook and the warehouse queries alike, and narrowed back closes all
// four again; its identity flipped to masked masks the drill-down rows and
// takes the MRN away.
func TestOneRuleEveryDoor(t *testing.T) {
	f := newMartFixture(t)
	f.api.Pages = dashboards.New(f.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	site := newFixtureServer(t, f.fixture)
	mgr := f.tokens[model.RoleDeptManager]
	saved := policy.Roles[model.RoleDeptManager]
	t.Cleanup(func() { policy.Roles[model.RoleDeptManager] = saved })

	type seen struct {
		coreList   int    // GET /api/v1/queue of the other department
		page       string // the dashboard page's scope line
		export     int    // POST /api/v1/exports of the other department
		exportSees bool   // the finished workbook's 说明 names the other department
		martRows   int    // warehouse rows grouped by department
	}
	look := func() seen {
		t.Helper()
		var s seen
		s.coreList, _ = f.do(mgr, "GET", fmt.Sprintf("/api/v1/queue?dept=%d&date=2026-09-01", f.pf.ID), nil)
		req, _ := http.NewRequest("GET", site+"/dash/overview", nil)
		req.AddCookie(&http.Cookie{Name: dashboards.Cookie, Value: mgr})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case strings.Contains(string(body), "· 本科室）"):
			s.page = "本科室"
		case strings.Contains(string(body), "· 全院）"):
			s.page = "全院"
		default:
			t.Fatalf("overview page %d without a scope line", resp.StatusCode)
		}
		var job map[string]any
		code, out := f.do(mgr, "POST", "/api/v1/exports?wait=30", map[string]any{"report": "workload", "from": "2026-09-01", "to": "2026-09-30", "dept": []int64{f.pf.ID}})
		s.export = code
		if code == http.StatusAccepted {
			if err := json.Unmarshal(out, &job); err != nil || job["status"] != "done" {
				t.Fatalf("export %s %v", out, err)
			}
			_, file := f.get(mgr, "/api/v1/exports/"+job["id"].(string)+"/file")
			wb, err := excelize.OpenReader(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			v, _ := wb.GetCellValue("说明", "B6")
			s.exportSees = strings.Contains(v, "皮肤科")
		}
		var m martJSON
		f.mustDo(mgr, "GET", "/api/v1/marts/workload?from=2026-09-01&to=2026-09-01&grain=all&group_by=dept&measures=sessions", nil, 200, &m)
		s.martRows = len(m.Rows)
		return s
	}
	narrow := seen{coreList: 403, page: "本科室", export: 403, martRows: 1}
	wide := seen{coreList: 200, page: "全院", export: 202, exportSees: true, martRows: 2}
	if got := look(); got != narrow {
		t.Fatalf("as the table has it: %+v, want %+v", got, narrow)
	}
	r := saved
	r.Reach = policy.ReachInstitution
	policy.Roles[model.RoleDeptManager] = r
	if got := look(); got != wide {
		t.Errorf("reach widened to the institution: %+v, want %+v", got, wide)
	}
	policy.Roles[model.RoleDeptManager] = saved
	if got := look(); got != narrow {
		t.Errorf("narrowed back: %+v, want %+v", got, narrow)
	}

	// Identity: the manager's drill-down names its patients with their MRN;
	// with the row flipped to masked, the same read masks them, and the MRN
	// column is gone.
	drill := func() (masked bool, mrn bool) {
		t.Helper()
		var d martJSON
		f.mustDo(mgr, "GET", fmt.Sprintf("/api/v1/marts/workload/detail?from=2026-09-01&to=2026-09-30&dept=%d&page_size=5", f.jg.ID), nil, 200, &d)
		if len(d.Rows) == 0 {
			t.Fatal("no detail rows")
		}
		for _, c := range d.Columns {
			mrn = mrn || c.Title == "病案号"
		}
		return strings.Contains(d.Rows[0][10].(string), "*"), mrn
	}
	if masked, mrn := drill(); masked || !mrn {
		t.Fatalf("as the table has it: masked %v, MRN column %v", masked, mrn)
	}
	r = saved
	r.Identity = policy.IdentityMasked
	policy.Roles[model.RoleDeptManager] = r
	if masked, mrn := drill(); !masked || mrn {
		t.Errorf("identity flipped to masked: masked %v, MRN column %v", masked, mrn)
	}
	policy.Roles[model.RoleDeptManager] = saved
}

// TestRolePageMatrix: every page of the dashboards and the front line,
// opened by every role, answers as policy's table says: 200 for a role its
// action allows, 403 otherwise (the tablet also wants a staff record, which
// the fixture's clinician has), and a visitor without a session is sent to
// sign in.
func TestRolePageMatrix(t *testing.T) {
	f := newFixture(t)
	site := frontSite(t, f)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	open := func(path, cookie, token string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", site+path, nil)
		if token != "" {
			req.AddCookie(&http.Cookie{Name: cookie, Value: token})
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	type page struct {
		path, cookie string
		action       policy.Action
	}
	var pages []page
	for _, p := range dashboards.Pages {
		pages = append(pages, page{"/dash/" + p.Slug, dashboards.Cookie, p.Action})
	}
	for _, p := range frontline.Pages {
		path := p.Path
		if p.Path == frontline.BoardPage.Path {
			path += fmt.Sprintf("?dept=%d", f.deptA.ID)
		}
		pages = append(pages, page{path, frontline.Cookie, p.Action})
	}
	checked := 0
	for _, p := range pages {
		for _, role := range fixtureRoles {
			want := http.StatusForbidden
			if p.action.Allows(model.Actor{Role: role}) {
				want = http.StatusOK
			}
			if got := open(p.path, p.cookie, f.tokens[role]); got != want {
				t.Errorf("%s as %s: %d, want %d", p.path, role, got, want)
			}
			checked++
		}
		if got := open(p.path, p.cookie, ""); got != http.StatusSeeOther {
			t.Errorf("%s without a session: %d, want 303 to the sign-in page", p.path, got)
		}
	}
	if len(pages) < 10 || checked < 10*len(fixtureRoles) {
		t.Fatalf("only %d pages × roles checked", checked)
	}
}
