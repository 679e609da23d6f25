package dashboards_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/dashboards"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
)

// TestFirstMinute opens the dashboards of a service whose warehouse holds
// the shipped events but no mart yet: the page says 首次构建中 with its
// progress and writes no date into the address; once the marts are built
// the same page, without a reload, draws the range that ends on the last
// day with data. A bad date in the address is reported and replaced by the
// default range.
func TestFirstMinute(t *testing.T) {
	ctx := context.Background()
	site := testmarts.Pilot(t)
	wh, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "fresh.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	if err := (&cdc.Relay{Core: site.DB, Warehouse: wh, Logger: testmarts.Quiet}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	insts, _ := site.DB.Institutions(ctx)
	if err := site.DB.CreateUser(ctx, &model.User{InstitutionID: insts[0].ID, Username: "zhikong", Role: model.RoleQualityOffice}, "Quality-2026"); err != nil {
		t.Fatal(err)
	}
	runner := &etl.Runner{Warehouse: wh, Logger: testmarts.Quiet}
	s := api.NewServer(site.DB, testmarts.Quiet)
	s.Analytics, s.Pages = runner, dashboards.New(site.DB, testmarts.Quiet)
	s.Now = func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, model.Local) }
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	tab, console, _ := browserTab(t)
	defer screenshotOnFailure(t, tab, "first-minute")
	if err := do(tab, chromedp.Navigate(srv.URL+"/dash/login?next=/dash/workload"), chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SetValue(chromedp.ID("username"), "zhikong"), chromedp.SetValue(chromedp.ID("password"), "Quality-2026"),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.ID("building"))); err != nil {
		t.Fatal("no 首次构建中 while the marts are unbuilt:", err)
	}
	text, err := run(tab, chromedp.Evaluate[string](`document.getElementById('building').innerText + ' | ' + location.search`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "首次构建中") || !strings.Contains(text, "0 / 6") || strings.Contains(text, "from=") {
		t.Fatalf("while building: %q", text)
	}
	if _, err := runner.Run(ctx, etl.Options{Full: true}); err != nil {
		t.Fatal(err)
	}
	search, err := run(tab, chromedp.Poll[string](`document.getElementById('building').hidden && document.body.dataset.ready === '1' && location.search`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatal("the page did not draw after the build:", err)
	}
	if last := lastSessionDay(t, wh); !strings.Contains(search, "from="+last[:8]+"01") || !strings.Contains(search, "to="+last) {
		t.Errorf("after the build the page reads %q, want this month up to the last day with data", search)
	}
	// A bad date in the address: reported, and the default range instead.
	if err := do(tab, chromedp.Navigate(srv.URL+"/dash/workload?from=1-01-0101&to=2026-02-30")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(tab, settled); err != nil {
		t.Fatal(err)
	}
	got, err := run(tab, chromedp.Evaluate[[]string](`[document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent, location.search]`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got[0], "日期无效") || !strings.Contains(got[1], "from=2026-11-01") {
		t.Errorf("a bad date in the address: notice %q, address %q", got[0], got[1])
	}
	for _, m := range console() {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			t.Errorf("console: %s", m)
		}
	}
}
