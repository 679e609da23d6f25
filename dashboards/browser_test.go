package dashboards_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/dashboards"
	"github.com/zhiliao/zhiliao/internal/testbrowser"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testmarts.Cleanup()
	os.Exit(code)
}

// site serves the pilot hospital's analytics (marts built) with the pages,
// on a server whose clock reads the day after the pilot's last day.
func site(t *testing.T) string {
	t.Helper()
	base, _ := siteAt(t, time.Date(2026, 11, 23, 9, 0, 0, 0, model.Local))
	return base
}

// lastSessionDay is the last day (China time) with a completed session in
// a warehouse's raw layer, read apart from the marts.
func lastSessionDay(t *testing.T, wh warehouse.Warehouse) string {
	t.Helper()
	var lastDay string
	for _, row := range warehousetest.Rows(t, wh, "SELECT started_at FROM cur_session WHERE status = 'completed'") {
		if at, ok := row[0].(time.Time); ok {
			if d := at.In(model.Local).Format("2006-01-02"); d > lastDay {
				lastDay = d
			}
		}
	}
	return lastDay
}

// siteAt serves the pilot on a server whose clock always reads now, and
// returns the pilot's last day with a completed session (China time), read
// from the raw layer rather than the marts.
func siteAt(t *testing.T, now time.Time) (string, string) {
	t.Helper()
	ctx := context.Background()
	site := testmarts.Pilot(t)
	lastDay := lastSessionDay(t, site.Warehouse)
	db := site.DB
	insts, err := db.Institutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	depts, err := db.Departments(ctx, insts[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	free, err := db.UnboundStaff(ctx, depts[0].ID, "")
	if err != nil || len(free) == 0 {
		t.Fatal("no staff record for the department manager", err)
	}
	for _, u := range []*model.User{
		{Username: "zhuren", DisplayName: "激光中心主任", Role: model.RoleDeptManager, StaffID: &free[0].ID},
		{Username: "pingshen", DisplayName: "评审专家", Role: model.RoleEvaluator},
		{Username: "qiantai", DisplayName: "前台", Role: model.RoleFrontDesk},
	} {
		u.InstitutionID = insts[0].ID
		if err := db.CreateUser(ctx, u, "Browser-test-pw1"); err != nil {
			t.Fatal(err)
		}
	}
	s := api.NewServer(db, testmarts.Quiet)
	s.Analytics, s.Pages = site.Runner, dashboards.New(db, testmarts.Quiet)
	s.Now = func() time.Time { return now }
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, lastDay
}

// TestDatePresetsAnchorOnLastDay runs the date presets on a server whose
// clock reads a year after the pilot ended: every preset ends on the last
// day with data, never on the (empty) days before the server's today.
func TestDatePresetsAnchorOnLastDay(t *testing.T) {
	base, last := siteAt(t, time.Date(2027, 11, 23, 10, 0, 0, 0, model.Local))
	if last == "" {
		t.Fatal("the pilot has no completed session")
	}
	day := func(s string, months, days int) string {
		d, _ := time.Parse("2006-01-02", s)
		return d.AddDate(0, months, days).Format("2006-01-02")
	}
	monthStart := last[:8] + "01"
	want := map[string][2]string{
		"today":     {last, last},
		"7d":        {day(last, 0, -6), last},
		"month":     {monthStart, last},
		"lastmonth": {day(monthStart, -1, 0), day(monthStart, 0, -1)},
		"90d":       {day(last, 0, -89), last},
	}
	ctx, _, _ := browserTab(t)
	defer screenshotOnFailure(t, ctx, "presets")
	if err := do(ctx, chromedp.Navigate(base+"/dash/workload"), chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SetValue(chromedp.ID("username"), "zhuren"), chromedp.SetValue(chromedp.ID("password"), "Browser-test-pw1"),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.CSS(`body[data-page="workload"]`))); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, settled); err != nil {
		t.Fatal(err)
	}
	if asof, _ := run(ctx, chromedp.Text(chromedp.ID("asof"))); !strings.Contains(asof, last) {
		t.Errorf("数据截至 line %q, want the last day %s", asof, last)
	}
	// The page opened on the anchor's month, with sessions in it.
	if sum, _ := run(ctx, chromedp.Evaluate[string](`document.querySelector('#chart-by-day').dataset.sum`)); sum == "" || sum == "0" {
		t.Errorf("opening range shows %q sessions", sum)
	}
	for _, name := range []string{"today", "7d", "month", "lastmonth", "90d"} {
		if err := do(ctx, chromedp.Click(chromedp.CSS(`[data-preset="`+name+`"]`))); err != nil {
			t.Fatal(err)
		}
		_, err := run(ctx, chromedp.Poll[[]string](`document.body.dataset.ready === '1' && (() => {
			const q = new URLSearchParams(location.search);
			return q.get('from') === '`+want[name][0]+`' && q.get('to') === '`+want[name][1]+`' && [q.get('from'), q.get('to')];
		})()`, chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			loc, _ := run(ctx, chromedp.Evaluate[string](`location.search`))
			t.Errorf("preset %s: want %v, page at %q (%v)", name, want[name], loc, err)
		}
	}
}

// The browser helpers every test of the package uses, from testbrowser.
func browserTab(t *testing.T) (context.Context, func() []chromedp.ConsoleMessage, string) {
	return testbrowser.Tab(t)
}

func do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	return testbrowser.Do(ctx, steps...)
}

func run[T any](ctx context.Context, a chromedp.Action[T]) (T, error) { return testbrowser.Run(ctx, a) }

func screenshotOnFailure(t *testing.T, ctx context.Context, name string) {
	testbrowser.ScreenshotOnFailure(t, ctx, name)
}

// barCenter is where on the page the first non-empty bar of a chart is.
const barCenter = `(() => {
	const el = document.querySelector('#chart-by-staff');
	const c = echarts.getInstanceByDom(el);
	const data = c.getOption().series[0].data;
	const i = data.findIndex(v => v > 0);
	const b = c.getModel().getSeriesByIndex(0).getData().getItemLayout(i); // the bar's rectangle
	const r = el.getBoundingClientRect();
	return [r.left + b.x + b.width / 2, r.top + b.y + b.height / 2, data[i]];
})()`

// settled waits until the page has no request in flight and every chart
// has drawn.
var settled = chromedp.Poll[bool](`document.body.dataset.ready === '1' &&
	[...document.querySelectorAll('[data-chart]')].every(e => e.dataset.drawn === '1') &&
	[...document.querySelectorAll('[data-table] .table-wrap')].every(e => e.dataset.rows !== undefined)`,
	chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))

// inkedCharts counts the chart canvases with drawn (non-background) pixels.
const inkedCharts = `[...document.querySelectorAll('[data-chart] canvas')].filter(c => {
	const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
	let ink = 0;
	for (let i = 0; i < d.length; i += 4) { if (d[i+3] > 0 && (d[i] < 200 || d[i+1] < 200 || d[i+2] < 200)) ink++; }
	return ink > 200;
}).length`

// TestDashboardsInBrowser logs in as a department manager and walks every
// page in headless Chromium: no console error, every chart has ink, a
// filter change redraws, a click on a bar opens the rows behind it, and a
// table's export downloads the CSV with the headers and rows on screen.
func TestDashboardsInBrowser(t *testing.T) {
	base := site(t)
	ctx, console, downloads := browserTab(t)
	defer screenshotOnFailure(t, ctx, "dashboards")

	// The login page rejects a bad password with a message, then admits.
	if err := do(ctx, chromedp.Navigate(base+"/dash/workload"), chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SetValue(chromedp.ID("username"), "zhuren"), chromedp.SetValue(chromedp.ID("password"), "wrong"),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.ID("login-error"))); err != nil {
		t.Fatal(err)
	}
	if err := do(ctx, chromedp.SetValue(chromedp.ID("password"), "Browser-test-pw1"), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="workload"]`))); err != nil {
		t.Fatal(err)
	}
	// The failed login logged its 401; pages from here on must log nothing.
	afterLogin := len(console())

	for _, p := range dashboards.Pages {
		if !p.Action.Allows(model.Actor{Role: model.RoleDeptManager}) {
			continue // the system administrator's pages (接口消息): TestRolePageMatrix covers who opens them
		}
		if err := do(ctx, chromedp.Navigate(base+"/dash/"+p.Slug)); err != nil {
			t.Fatal(err)
		}
		if _, err := run(ctx, settled); err != nil {
			t.Fatalf("%s did not settle: %v", p.Slug, err)
		}
		inked, err := run(ctx, chromedp.Evaluate[int](inkedCharts))
		if err != nil || inked != len(p.Charts) {
			t.Errorf("%s: %d of %d charts drawn (%v)", p.Slug, inked, len(p.Charts), err)
		}
		rows, err := run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-table]:not([hidden]) .table-wrap, #freshness-table' + (document.body.dataset.operator === 'true' ? ', #runs-table' : ''))].map(e => e.dataset.rows || '')`))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rows {
			if r == "" || r == "0" {
				t.Errorf("%s: table %d has no rows", p.Slug, i)
			}
		}
		if dir := os.Getenv("ZHILIAO_SCREENSHOTS"); dir != "" { // every page, for review
			if png, err := run(ctx, chromedp.FullScreenshot(100)); err == nil {
				os.WriteFile(filepath.Join(dir, "zhiliao-page-"+p.Slug+".png"), png, 0o644)
			}
		}
		status, _ := run(ctx, chromedp.Text(chromedp.ID("status")))
		if strings.Contains(status, "失败") {
			t.Errorf("%s: %s", p.Slug, status)
		}
		if p.Slug == "overview" {
			kpi, _ := run(ctx, chromedp.Text(chromedp.CSS(`[data-kpi="sessions"] .kpi-range b`)))
			if kpi == "…" || kpi == "" || kpi == "—" {
				t.Errorf("overview: sessions this month %q", kpi)
			}
		}
	}

	// A filter change redraws: the last 7 days instead of this month.
	if err := do(ctx, chromedp.Navigate(base+"/dash/workload")); err != nil {
		t.Fatal(err)
	}
	run(ctx, settled)
	before, _ := run(ctx, chromedp.Evaluate[[]string](`[document.querySelector('#chart-by-day').dataset.points, document.querySelector('#chart-by-day').dataset.sum, location.search]`))
	if err := do(ctx, chromedp.Click(chromedp.CSS(`[data-preset="7d"]`))); err != nil {
		t.Fatal(err)
	}
	// The chart redraws from the API for the new range: fewer days, fewer sessions.
	after, err := run(ctx, chromedp.Poll[[]string](`document.body.dataset.ready === '1' && location.search !== '`+before[2]+`' &&
		document.querySelector('#chart-by-day').dataset.drawn === '1' &&
		[document.querySelector('#chart-by-day').dataset.points, document.querySelector('#chart-by-day').dataset.sum, location.search]`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || after[1] == before[1] || after[0] == before[0] || !strings.Contains(after[2], "from=") {
		t.Errorf("7-day filter: before %v, after %v (%v)", before, after, err)
	}

	// A click on the first bar of sessions by staff opens its detail rows.
	xy, err := run(ctx, chromedp.Evaluate[[]float64](barCenter))
	if err != nil {
		t.Fatal(err)
	}
	if err := do(ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatal(err)
	}
	total, err := run(ctx, chromedp.Poll[string](`!document.querySelector('#detail').hidden && document.body.dataset.ready === '1' &&
		document.querySelector('#detail-table').dataset.rows > 0 && document.querySelector('#detail-page').textContent`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !strings.Contains(total, fmt.Sprintf("共 %d 条", int(xy[2]))) {
		state, _ := run(ctx, chromedp.Evaluate[[]string](`[String(document.querySelector('#detail').hidden), document.querySelector('#status').textContent, location.href]`))
		t.Errorf("detail after clicking at %v a bar of %v sessions: %q %v; page %v", xy[:2], xy[2], total, err, state)
	}
	// The rows behind it show codes in Chinese (门诊, not outpatient).
	if text, err := run(ctx, chromedp.Evaluate[string](`document.querySelector('#detail-table').innerText`)); err != nil ||
		strings.Contains(text, "outpatient") || strings.Contains(text, "inpatient") || !strings.Contains(text, "门诊") {
		t.Errorf("detail rows show codes or fen: %v\n%s", err, text)
	}

	// The table's export downloads what the table shows.
	shown, err := run(ctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('[data-table="workload-by-staff"] tr')].map(tr => [...tr.children].map(td => td.textContent))`))
	if err != nil {
		t.Fatal(err)
	}
	if err := do(ctx, chromedp.Click(chromedp.CSS(`[data-table="workload-by-staff"] a.export-csv`))); err != nil {
		t.Fatal(err)
	}
	var file []byte
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && file == nil; time.Sleep(100 * time.Millisecond) {
		matches, _ := filepath.Glob(filepath.Join(downloads, "workload-by-staff_*.csv"))
		if len(matches) == 1 {
			file, _ = os.ReadFile(matches[0])
		}
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(file, []byte("\ufeff")))).ReadAll()
	if err != nil || len(recs) != len(shown) || len(recs) < 2 {
		t.Fatalf("download %d records, screen %d rows (%v): %s", len(recs), len(shown), err, file)
	}
	for i := range recs {
		if strings.Join(recs[i], "|") != strings.Join(shown[i], "|") {
			t.Errorf("row %d: file %v, screen %v", i, recs[i], shown[i])
		}
	}

	for _, m := range console()[afterLogin:] {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			t.Errorf("console: %s", m)
		}
	}
}

// TestDashboardsScope: the evaluator's drill-down masks patient names, and a
// front-desk login is refused the pages.
func TestDashboardsScope(t *testing.T) {
	base := site(t)
	ctx, _, _ := browserTab(t)
	defer screenshotOnFailure(t, ctx, "scope")
	login := func(user string) int64 {
		if err := do(ctx, chromedp.Navigate(base+"/dash/login"), chromedp.WaitVisible(chromedp.ID("login-form")),
			chromedp.SetValue(chromedp.ID("username"), user), chromedp.SetValue(chromedp.ID("password"), "Browser-test-pw1")); err != nil {
			t.Fatal(err)
		}
		resp, err := testbrowser.RunResponse(ctx, chromedp.Click(chromedp.ID("login-submit")))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status
	}
	if status := login("qiantai"); status != 403 {
		t.Errorf("front desk: status %d", status)
	}
	text, _ := run(ctx, chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(text, "无权访问") {
		t.Errorf("front desk sees %q", text)
	}
	if status := login("pingshen"); status != 200 {
		t.Errorf("evaluator: status %d", status)
	}
	// On a tablet (portrait), charts stack in one column, still draw, and
	// the page does not scroll sideways.
	if err := do(ctx, chromedp.EmulateViewport(820, 1180)); err != nil {
		t.Fatal(err)
	}
	if err := do(ctx, chromedp.Navigate(base+"/dash/workload")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, settled); err != nil {
		t.Fatal(err)
	}
	layout, err := run(ctx, chromedp.Evaluate[[]int](`[getComputedStyle(document.querySelector('.charts')).gridTemplateColumns.split(' ').length,
		document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil || layout[0] != 1 || layout[1] > layout[2] {
		t.Errorf("tablet layout: %d chart columns, page %d px wide in a %d px window (%v)", layout[0], layout[1], layout[2], err)
	}
	if inked, err := run(ctx, chromedp.Evaluate[int](inkedCharts)); err != nil || inked != 3 {
		t.Errorf("tablet: %d of 3 charts drawn (%v)", inked, err)
	}
	xy, err := run(ctx, chromedp.Evaluate[[]float64](barCenter))
	if err != nil {
		t.Fatal(err)
	}
	if err := do(ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatal(err)
	}
	names, err := run(ctx, chromedp.Poll[[]string](`document.querySelector('#detail-table').dataset.rows > 0 && (() => {
		const heads = [...document.querySelectorAll('#detail-table th')].map(th => th.textContent);
		const col = heads.indexOf('患者姓名');
		return [...document.querySelectorAll('#detail-table tbody tr')].map(tr => tr.children[col].textContent);
	})()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || len(names) == 0 {
		t.Fatalf("evaluator detail: %v %v", names, err)
	}
	for _, n := range names {
		if !strings.Contains(n, "*") {
			t.Errorf("evaluator sees patient name %q", n)
		}
	}
}
