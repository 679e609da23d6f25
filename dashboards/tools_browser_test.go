package dashboards_test

import (
	"context"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/dashboards"
	"github.com/zhiliao/zhiliao/exports"
	"github.com/zhiliao/zhiliao/internal/testbrowser"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
	"github.com/zhiliao/zhiliao/store"
)

// toolSite serves the pilot with its exports and the monthly schedule's
// records, as the service wires them, and logins for the quality office and
// the department's manager.
func toolSite(t *testing.T) string {
	t.Helper()
	base, _ := toolSiteDB(t)
	return base
}

// toolSiteDB is toolSite with its core.
func toolSiteDB(t *testing.T) (string, *store.DB) {
	t.Helper()
	ctx := context.Background()
	site := testmarts.Pilot(t)
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
		{Username: "zhikong", DisplayName: "质控科", Role: model.RoleQualityOffice},
		{Username: "zhuren", DisplayName: "激光中心主任", Role: model.RoleDeptManager, StaffID: &free[0].ID},
		{Username: "xitong", DisplayName: "系统管理员", Role: model.RoleAdmin},
	} {
		u.InstitutionID = insts[0].ID
		if err := db.CreateUser(ctx, u, "Browser-test-pw1"); err != nil {
			t.Fatal(err)
		}
	}
	rules := reports.DefaultRules()
	m := &exports.Manager{Source: site.Runner, Rules: rules, Dir: t.TempDir(), Logger: testmarts.Quiet}
	// The run due on 2026-12-01 06:00, missed and caught up a week later.
	sched := &exports.Schedule{Manager: m, Spec: exports.DefaultMonthly, Dims: site.Runner.Dimensions, Logger: testmarts.Quiet,
		Now: func() time.Time { return time.Date(2026, 12, 8, 9, 0, 0, 0, model.Local) }}
	if out, err := sched.CatchUp(ctx); err != nil || len(out) != len(exports.MonthlyReports) {
		t.Fatalf("catch-up: %v %v", out, err)
	}
	s := api.NewServer(db, testmarts.Quiet)
	s.Analytics, s.Pages, s.Exports, s.Rules = site.Runner, dashboards.New(db, testmarts.Quiet), m, rules
	s.Now = func() time.Time { return time.Date(2026, 12, 8, 9, 0, 0, 0, model.Local) }
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, db
}

func login(t *testing.T, ctx context.Context, base, page, user string) {
	t.Helper()
	if err := do(ctx, chromedp.Navigate(base+"/dash/"+page), chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SetValue(chromedp.ID("username"), user), chromedp.SetValue(chromedp.ID("password"), "Browser-test-pw1"),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
}

// TestReportsPage: the quality office picks a report, a period and the
// departments on 报表中心, sees the export's progress, downloads the
// workbook, and reads the history of scheduled runs, where the run missed
// over the 1st says it was caught up.
func TestReportsPage(t *testing.T) {
	base := toolSite(t)
	ctx, console, _ := browserTab(t)
	defer screenshotOnFailure(t, ctx, "reports-page")
	login(t, ctx, base, "reports", "zhikong")
	if _, err := run(ctx, chromedp.Evaluate[bool](`(() => {
		window.seen = [];
		new MutationObserver(() => document.querySelectorAll('[data-job] .job-status').forEach(e => { if (!seen.includes(e.dataset.status)) seen.push(e.dataset.status); }))
			.observe(document.getElementById('rep-jobs'), { subtree: true, childList: true });
		return true; })()`)); err != nil {
		t.Fatal(err)
	}
	// A period that ends before it starts is refused on the page.
	if err := do(ctx, chromedp.SetValue(chromedp.ID("rep-from"), "2026-10-31"), chromedp.SetValue(chromedp.ID("rep-to"), "2026-10-01"),
		chromedp.Click(chromedp.ID("rep-start"))); err != nil {
		t.Fatal(err)
	}
	if msg, _ := run(ctx, chromedp.Text(chromedp.ID("rep-error"))); !strings.Contains(msg, "统计期间") {
		t.Errorf("a reversed period: %q", msg)
	}
	if err := do(ctx, chromedp.Click(chromedp.CSS(`[data-report="dept-monthly"] input`)), chromedp.SetValue(chromedp.ID("rep-from"), "2026-10-01"),
		chromedp.SetValue(chromedp.ID("rep-to"), "2026-10-31"), chromedp.Click(chromedp.ID("rep-start"))); err != nil {
		t.Fatal(err)
	}
	id, err := run(ctx, chromedp.Poll[string](`(() => { const a = document.querySelector('[data-download]'); return a && a.dataset.download; })()`,
		chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatal("the export did not finish on the page:", err)
	}
	seen, _ := run(ctx, chromedp.Evaluate[[]string](`seen`))
	if len(seen) < 2 || seen[len(seen)-1] != "done" || (seen[0] != "queued" && seen[0] != "running") {
		t.Errorf("the job's states on the page: %v, want its progress and then 已完成", seen)
	}
	got, err := run(ctx, chromedp.Evaluate[[]any](`fetch('/api/v1/exports/`+id+`/file', { credentials: 'same-origin' })
		.then(r => r.arrayBuffer().then(b => [r.status, b.byteLength, String.fromCharCode(...new Uint8Array(b.slice(0, 2)))]))`,
		chromedp.EvalAwaitPromise))
	if err != nil || len(got) != 3 || got[0] != float64(200) || got[1].(float64) < 5000 || got[2] != "PK" {
		t.Errorf("the download: %v %v", got, err)
	}
	rows, err := run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-scheduled]')].map(r => r.innerText)`))
	if err != nil || len(rows) != len(exports.MonthlyReports) {
		t.Fatalf("scheduled runs listed: %v %v", rows, err)
	}
	for _, r := range rows {
		if !strings.Contains(r, "2026-11-01 至 2026-11-30") || !strings.Contains(r, "补跑") || !strings.Contains(r, "下载") {
			t.Errorf("scheduled run row %q", r)
		}
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		t.Errorf("console: %s", m)
	}
}

// TestConsentTemplatesPage: the department's manager edits a project's
// consent text with a live preview; a text too short is refused with the
// reason in Chinese and nothing saved; saved, it becomes the next revision
// in force and the history lists both.
func TestConsentTemplatesPage(t *testing.T) {
	base := toolSite(t)
	ctx, console, _ := browserTab(t)
	defer screenshotOnFailure(t, ctx, "consents-page")
	login(t, ctx, base, "consents", "zhuren")
	if _, err := run(ctx, chromedp.Poll[bool](`document.querySelectorAll('[data-revision]').length === 1`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatal("the demo's first revision is not listed:", err)
	}
	set := func(body string) {
		t.Helper()
		if _, err := run(ctx, chromedp.Evaluate[bool](`(() => { const b = document.getElementById('ct-body'); b.value = `+strconv.Quote(body)+`;
			b.dispatchEvent(new Event('input')); return true; })()`)); err != nil {
			t.Fatal(err)
		}
	}
	set("太短了")
	if err := do(ctx, chromedp.Click(chromedp.ID("ct-save"))); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, chromedp.Poll[bool](`document.getElementById('ct-msg').textContent.includes('正文须为')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatal("a too-short text was not refused with its reason:", err)
	}
	body := "一、治疗目的与方法\n以强脉冲光改善面部色斑与红血丝。\n\n二、可能的风险与并发症\n红斑、水肿、水疱、色素沉着，极少数遗留瘢痕。\n\n三、患者声明\n我已阅读并理解全部内容，自愿接受治疗。"
	set(body)
	if preview, _ := run(ctx, chromedp.Text(chromedp.ID("ct-preview"))); !strings.Contains(preview, "以强脉冲光改善面部色斑与红血丝") {
		t.Errorf("the preview does not show the text being written: %q", preview)
	}
	if err := do(ctx, chromedp.SetValue(chromedp.ID("ct-note"), "改写为三段"), chromedp.Click(chromedp.ID("ct-save"))); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, chromedp.Poll[bool](`document.getElementById('ct-msg').textContent.includes('第 2 版') && document.querySelectorAll('[data-revision]').length === 2`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		msg, _ := run(ctx, chromedp.Text(chromedp.ID("ct-msg")))
		t.Fatalf("saving the second revision: %v (%q)", err, msg)
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		if !strings.Contains(m.Text, "status of 400") { // the refused save, on purpose
			t.Errorf("console: %s", m)
		}
	}
}

// TestQualityDrillFailingUnits: on 数据质量与评级 a click on a rule's bar
// below 100 % opens its units named in Chinese; 只看不达标 keeps only the
// failing ones, each with 否 and its reason.
func TestQualityDrillFailingUnits(t *testing.T) {
	base, last := siteAt(t, time.Date(2026, 11, 23, 9, 0, 0, 0, model.Local))
	ctx, console, _ := browserTab(t)
	defer screenshotOnFailure(t, ctx, "quality-drill")
	if err := do(ctx, chromedp.Navigate(base+"/dash/quality?from=2026-08-24&to="+last), chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SetValue(chromedp.ID("username"), "zhuren"), chromedp.SetValue(chromedp.ID("password"), "Browser-test-pw1"),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.CSS(`body[data-page="quality"]`))); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, settled); err != nil {
		t.Fatal(err)
	}
	xy, err := run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const el = document.querySelector('#chart-coefficients');
		const c = echarts.getInstanceByDom(el);
		const data = c.getOption().series[0].data.map(v => (v && typeof v === 'object') ? v.value : v);
		const i = data.indexOf(Math.min(...data.filter(v => v > 0))); // the lowest rule: it has failing units
		const b = c.getModel().getSeriesByIndex(0).getData().getItemLayout(i);
		const r = el.getBoundingClientRect();
		return [r.left + b.x + b.width / 2, r.top + b.y + b.height / 2, i];
	})()`))
	if err != nil {
		t.Fatal("no rule below 100 % to drill into:", err)
	}
	if err := do(ctx, chromedp.MouseClickXY(xy[0], xy[1])); err != nil {
		t.Fatal(err)
	}
	rows := func() [][]string {
		t.Helper()
		got, err := run(ctx, chromedp.Poll[[][]string](`document.body.dataset.ready === '1' && document.querySelector('#detail-table').dataset.rows > 0 && (() => {
			const heads = [...document.querySelectorAll('#detail-table th')].map(th => th.textContent);
			return [heads].concat([...document.querySelectorAll('#detail-table tbody tr')].map(tr => [...tr.children].map(td => td.textContent)));
		})()`, chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil {
			t.Fatal("the detail rows:", err)
		}
		return got
	}
	all := rows()
	heads := all[0]
	unit, yes, why := slices.Index(heads, "对象"), slices.Index(heads, "是否达标"), slices.Index(heads, "不达标原因")
	if unit < 0 || yes < 0 || why < 0 || slices.Contains(heads, "对象代码") {
		t.Fatalf("detail columns %v", heads)
	}
	if err := do(ctx, chromedp.Click(chromedp.ID("detail-failing"))); err != nil {
		t.Fatal(err)
	}
	var failing [][]string
	for i := 0; i < 40; i++ { // the page reloads the rows after the switch
		failing = rows()
		if len(failing) > 1 && !slices.ContainsFunc(failing[1:], func(r []string) bool { return r[yes] != "否" }) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, r := range failing[1:] {
		if r[yes] != "否" || r[why] == "" || (r[unit] != "治疗记录" && r[unit] != "治疗" && r[unit] != "预约" && r[unit] != "满意度问卷" && r[unit] != "随访") {
			t.Errorf("a row of 只看不达标: %v", r)
		}
	}
	if len(failing) < 2 {
		t.Error("只看不达标 shows no unit for a rule below 100 %")
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		t.Errorf("console: %s", m)
	}
}

// TestPageExportPrintAndDays: a dashboard page exports what it shows as an
// Excel workbook for its period and department, states both when printed,
// draws every day of the range (a day without sessions as zero), and
// writes its times in the page's one date format.
func TestPageExportPrintAndDays(t *testing.T) {
	base := toolSite(t)
	ctx, console, _ := browserTab(t)
	defer screenshotOnFailure(t, ctx, "page-export")
	login(t, ctx, base, "workload?from=2026-10-01&to=2026-10-31", "zhikong")
	if _, err := run(ctx, settled); err != nil {
		t.Fatal(err)
	}
	got, err := run(ctx, chromedp.Poll[[]string](`document.body.dataset.ready === '1' && /已计入/.test(document.getElementById('asof').textContent) &&
		[document.getElementById('print-scope').textContent, document.querySelector('#chart-by-day').dataset.points, document.getElementById('asof').textContent]`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got[0], "统计期间 2026-10-01 至 2026-10-31") || !strings.Contains(got[0], "科室") {
		t.Errorf("the printed scope line %q", got[0])
	}
	if got[1] != "31" {
		t.Errorf("the daily chart of October has %s points, want 31 (days without sessions as zero)", got[1])
	}
	if !regexp.MustCompile(`已计入 \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} 前`).MatchString(got[2]) {
		t.Errorf("the freshness line %q: want one date format", got[2])
	}
	if err := do(ctx, chromedp.Click(chromedp.ID("page-xlsx"))); err != nil {
		t.Fatal(err)
	}
	id, err := run(ctx, chromedp.Poll[string](`document.body.dataset.exported || (/导出失败/.test(document.getElementById('status').textContent) && 'failed')`,
		chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil || id == "failed" {
		msg, _ := run(ctx, chromedp.Text(chromedp.ID("status")))
		t.Fatalf("the page's Excel: %v %q", err, msg)
	}
	file, err := run(ctx, chromedp.Evaluate[[]any](`fetch('/api/v1/exports/`+id+`/file', { credentials: 'same-origin' })
		.then(r => r.arrayBuffer().then(b => [r.status, b.byteLength, String.fromCharCode(...new Uint8Array(b.slice(0, 2)))]))`, chromedp.EvalAwaitPromise))
	if err != nil || file[0] != float64(200) || file[2] != "PK" {
		t.Errorf("the page's workbook: %v %v", file, err)
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		t.Errorf("console: %s", m)
	}
}

// TestInterfacesPage: the system administrator's 接口消息 lists a message
// the HIS refused, the patient's name masked, and replays it from the page;
// the quality office's 共享文档 says when every source became a document.
func TestInterfacesPage(t *testing.T) {
	base, db := toolSiteDB(t)
	ctx := context.Background()
	insts, _ := db.Institutions(ctx)
	from, err := db.FeedCheckpoint(ctx, "his")
	if err != nil {
		t.Fatal(err)
	}
	msg := model.FeedMessage{Seq: from, InstitutionID: insts[0].ID, PatientID: 1, Type: "SIU^S12", ControlID: "ZL-A1-S12", Entity: "appointment", EntityID: 1,
		Message: "MSH|^~\\&|ZHILIAO|TREATMENT|HIS|H001|20260901080000||SIU^S12^SIU_S12|ZL-A1-S12|P|2.5\rPID|1||H001MRN0000001^^^H001^MR||王小明\r"}
	if _, err := db.EnqueueFeed(ctx, "his", from, from, []model.FeedMessage{msg}); err != nil {
		t.Fatal(err)
	}
	next, _ := db.NextFeedMessage(ctx, "his")
	if err := db.FeedDead(ctx, next.ID, "AR", "对方拒绝 (AR): 本院无此患者"); err != nil {
		t.Fatal(err)
	}
	tab, console, _ := browserTab(t)
	defer screenshotOnFailure(t, tab, "interfaces-page")
	login(t, tab, base, "interfaces", "xitong")
	text, err := run(tab, chromedp.Text(chromedp.ID("hl7-out")))
	if err != nil || !strings.Contains(text, "发送失败") || !strings.Contains(text, "本院无此患者") || strings.Contains(text, "王小明") {
		t.Fatalf("the messages out: %q %v", text, err)
	}
	if err := do(tab, chromedp.Click(chromedp.CSS(`[data-replay]`))); err != nil {
		t.Fatal(err)
	}
	if _, err := run(tab, chromedp.Poll[bool](`!!document.querySelector('[data-status="queued"]') && !!document.querySelector('[data-status="replayed"]')`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("after the replay: %v", err)
	}
	if in, _ := run(tab, chromedp.Text(chromedp.ID("hl7-in"))); !strings.Contains(in, "没有死信") {
		t.Errorf("the dead letters in: %q", in)
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		t.Errorf("console: %+v", m)
	}
}
