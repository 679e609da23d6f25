package dashboards_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestTabletAndStates opens the dashboards at a tablet's 820 × 1180: every
// page of the menu is on screen without sideways scrolling; the overview's
// KPI cards follow the selected range with 环比 and 同比 beside each figure;
// a range without data shows 暂无数据 in its charts and tables instead of
// blank cards; every chart offers its PNG download.
func TestTabletAndStates(t *testing.T) {
	base := site(t)
	ctx, console, _ := browserTab(t)
	defer screenshotOnFailure(t, ctx, "tablet")
	if err := do(ctx, chromedp.EmulateViewport(820, 1180), chromedp.Navigate(base+"/dash/login?next=/dash/"),
		chromedp.WaitVisible(chromedp.ID("login-form")), chromedp.SetValue(chromedp.ID("username"), "zhuren"),
		chromedp.SetValue(chromedp.ID("password"), "Browser-test-pw1"), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="overview"]`))); err != nil {
		t.Fatal(err)
	}
	if err := do(ctx, chromedp.Navigate(base+"/dash/?from=2026-11-01&to=2026-11-22")); err != nil {
		t.Fatal(err)
	}
	kpi, err := run(ctx, chromedp.Poll[[]string](`(() => {
		const c = document.querySelector('[data-kpi="sessions"]');
		if (!c) return false;
		const v = [c.querySelector('.kpi-range b').textContent, c.querySelector('.mom').textContent, c.querySelector('.yoy').textContent];
		return v[0] !== '…' && v[1] !== '…' && v;
	})()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	// November 1–22 against October 10–31: a change in per cent; a year
	// before there was no data, and 同比 says so.
	if kpi[0] == "—" || !strings.HasSuffix(kpi[1], "%") || !strings.HasPrefix(kpi[2], "—（无去年同期数据") {
		t.Errorf("sessions KPI %q, 环比 %q, 同比 %q", kpi[0], kpi[1], kpi[2])
	}
	off, err := run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('nav a')].filter(a => {
		const r = a.getBoundingClientRect(); return r.right > window.innerWidth || r.left < 0 || r.width === 0; }).map(a => a.textContent)`))
	if err != nil || len(off) > 0 {
		t.Errorf("menu entries off screen at 820 px: %v %v", off, err)
	}
	if err := do(ctx, chromedp.Navigate(base+"/dash/workload?from=2027-03-01&to=2027-03-31")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, settled); err != nil {
		t.Fatal(err)
	}
	states, err := run(ctx, chromedp.Evaluate[[]string](`[
		[...document.querySelectorAll('[id^="chart-"]')].map(el => el.dataset.empty).join(','),
		[...document.querySelectorAll('[data-table] .table-wrap')].map(el => el.textContent).join('|'),
		[...document.querySelectorAll('[id^="chart-"]')].map(el => !!echarts.getInstanceByDom(el).getOption().toolbox[0].feature.saveAsImage).join(',')]`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(states[0], "0") || states[0] == "" || !strings.Contains(states[1], "暂无数据") || strings.Contains(states[2], "false") {
		t.Errorf("an empty range: charts empty %q, tables %q, PNG download %q", states[0], states[1], states[2])
	}
	for _, m := range console() {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			t.Errorf("console: %s", m)
		}
	}
}
