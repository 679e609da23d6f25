package dashboards_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/dashboards"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
)

// ordersShown sums the 医嘱数 column of the project table on the page.
const ordersShown = `(() => {
	const wrap = document.querySelector('[data-table="project-summary"] .table-wrap');
	const t = wrap && wrap.querySelector('table');
	if (!t) return wrap && wrap.dataset.rows === '0' ? 0 : -1;
	const col = [...t.querySelectorAll('thead th')].findIndex(th => th.textContent === '医嘱数');
	return [...t.querySelectorAll('tbody tr')].reduce((s, tr) => s + (+tr.children[col].textContent.replace(/,/g, '') || 0), 0);
})()`

// TestLiveUpdate keeps the 项目 page open while the HIS sends a paid order
// through the API: the relay ships it, nudges the marts, and the open page
// shows one more order without a reload.
func TestLiveUpdate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	site := testmarts.Pilot(t)
	insts, _ := site.DB.Institutions(ctx)
	for _, u := range []*model.User{{Username: "zhikong", Role: model.RoleQualityOffice}, {Username: "his", Role: model.RoleHIS}} {
		u.InstitutionID = insts[0].ID
		if err := site.DB.CreateUser(ctx, u, "Live-test-2026"); err != nil {
			t.Fatal(err)
		}
	}
	sched := &etl.Scheduler{Runner: site.Runner, Incremental: "@every 1h", Full: "0 2 * * *", Logger: testmarts.Quiet, Debounce: 100 * time.Millisecond}
	relay := &cdc.Relay{Core: site.DB, Warehouse: site.Warehouse, Logger: testmarts.Quiet, FlushInterval: 100 * time.Millisecond,
		OnShipped: func(int64) { sched.Nudge() }}
	if err := sched.Start(); err != nil {
		t.Fatal(err)
	}
	defer sched.Stop()
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); relay.Run(ctx) }()
	defer func() { cancel(); <-relayDone }()
	s := api.NewServer(site.DB, testmarts.Quiet)
	s.Analytics, s.Pages = site.Runner, dashboards.New(site.DB, testmarts.Quiet)
	s.Now = func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, model.Local) }
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	tab, console, _ := browserTab(t)
	defer screenshotOnFailure(t, tab, "live")
	if err := do(tab, chromedp.Navigate(srv.URL+"/dash/login?next="+"/dash/projects%3Ffrom%3D2026-11-22%26to%3D2026-11-22"),
		chromedp.WaitVisible(chromedp.ID("login-form")), chromedp.SetValue(chromedp.ID("username"), "zhikong"),
		chromedp.SetValue(chromedp.ID("password"), "Live-test-2026"), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-page="projects"]`))); err != nil {
		t.Fatal(err)
	}
	// Poll wants a truthy answer: the count travels in an array (0 orders is an answer).
	got, err := run(tab, chromedp.Poll[[]float64](`document.body.dataset.ready === '1' && document.body.dataset.watermark && `+ordersShown+` >= 0 && [`+ordersShown+`]`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	before := got[0]
	var code string
	if err := site.DB.Reader().QueryRow("SELECT code FROM project ORDER BY id LIMIT 1").Scan(&code); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"username": "his", "password": "Live-test-2026"})
	resp, err := http.Post(srv.URL+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	body, _ = json.Marshal(map[string]any{"message_id": "LIVE-1", "action": "new", "order_no": "RX-LIVE-1", "patient_mrn": "MRN-LIVE-1",
		"patient_name": "实时测试", "project_code": code, "quantity": 1, "visit_type": "outpatient", "diagnosis_code": "L81.4",
		"ordered_at": time.Date(2026, 11, 22, 10, 0, 0, 0, model.Local), "paid": true})
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/his/orders", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+login.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HIS order: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	after, err := run(tab, chromedp.Poll[float64](ordersShown+` > `+jsNumber(before)+` && `+ordersShown, chromedp.WithPollingTimeout(30*time.Second)))
	// (after is at least 1 here, so the plain number is truthy.)
	if err != nil || after != before+1 {
		t.Fatalf("the open page shows %v orders after one more was sent (was %v): %v", after, before, err)
	}
	for _, m := range console() {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			t.Errorf("console: %s", m)
		}
	}
}

func jsNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
