package dashboards_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/dashboards"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// orderJS posts a paid HIS order to api with the browser's cookie, as a
// page would, and leaves the status (or 'error') in window.__status. token
// is the CSRF header to send (” sends none).
const orderJS = `(api, token, id) => {
	const headers = {'Content-Type': 'text/plain'};
	if (token) headers['X-CSRF-Token'] = token;
	fetch(api + '/api/v1/his/orders', {method: 'POST', credentials: 'include', mode: token ? 'same-origin' : 'no-cors', headers,
		body: JSON.stringify({message_id: id, action: 'new', order_no: 'RX-' + id, patient_mrn: 'MRN-' + id, patient_name: '跨站测试',
			project_code: 'KF001', quantity: 1, visit_type: 'outpatient', diagnosis_code: 'M54.5', ordered_at: '2026-03-02T09:00:00+08:00', paid: true})})
		.then(r => { window.__status = String(r.status || 'opaque'); }, () => { window.__status = 'error'; });
}`

// TestCrossOriginPageCannotWrite logs a HIS account in through the
// dashboards' form, then opens a page served from another port of the same
// host (same site, so the SameSite cookie goes along) that posts a paid
// order with that cookie: no order is created. The same post from the
// service's own origin with the session's CSRF token succeeds, so the
// cookie does reach the server and only the CSRF rule refuses the forgery.
func TestCrossOriginPageCannotWrite(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "core.db"), store.Options{Logger: testmarts.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inst := &model.Institution{Code: "H001", Name: "示例医院"}
	dept := &model.Department{Code: "KF", Name: "康复医学科"}
	p := &model.Project{Code: "KF001", Name: "运动疗法", Category: "rehab", UnitPriceFen: 4500, Minutes: 30, CourseSessions: 10, Active: true}
	if err := db.CreateInstitution(ctx, inst); err != nil {
		t.Fatal(err)
	}
	dept.InstitutionID = inst.ID
	if err := db.CreateDepartment(ctx, dept); err != nil {
		t.Fatal(err)
	}
	p.InstitutionID, p.DeptID = inst.ID, dept.ID
	if err := db.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, &model.User{InstitutionID: inst.ID, Username: "his", Role: model.RoleHIS}, "Interface-2026"); err != nil {
		t.Fatal(err)
	}
	s := api.NewServer(db, testmarts.Quiet)
	pages := dashboards.New(db, testmarts.Quiet)
	pages.Throttle, pages.Clients = s.Throttle, s.Clients
	s.Pages = pages
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>中奖通知</title><p>恭喜</p>`))
	}))
	defer evil.Close()
	orders := func() int {
		var n int
		db.Reader().QueryRow("SELECT COUNT(*) FROM his_order").Scan(&n)
		return n
	}

	tab, _, _ := browserTab(t)
	defer screenshotOnFailure(t, tab, "csrf")
	if err := do(tab, chromedp.Navigate(srv.URL+"/dash/login"), chromedp.WaitVisible("#username"),
		chromedp.SetValue(chromedp.ID("username"), "his"), chromedp.SetValue(chromedp.ID("password"), "Interface-2026"),
		chromedp.Click(chromedp.ID("login-submit")),
		// The login has answered (and set the cookie) once the dashboards'
		// refusal page for the HIS role is shown: it links back to 总览.
		chromedp.WaitVisible(chromedp.CSS(`a[href="/dash/"]`))); err != nil {
		t.Fatal("the login did not complete:", err)
	}
	status := chromedp.Poll[string](`window.__status || false`, chromedp.WithPollingTimeout(15*time.Second))
	// The forgery, from another port of the same host.
	if err := do(tab, chromedp.Navigate(evil.URL+"/"), chromedp.Evaluate[chromedp.Void]("("+orderJS+")('"+srv.URL+"', '', 'EVIL1')")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(tab, status); err != nil {
		t.Fatal(err)
	}
	if n := orders(); n != 0 {
		t.Fatalf("a page of another origin created %d orders with the cookie", n)
	}
	// The service's own page, with the session's CSRF token from /me.
	if err := do(tab, chromedp.Navigate(srv.URL+"/dash/login"), chromedp.Evaluate[chromedp.Void](`fetch('/api/v1/me', {credentials: 'same-origin'})
		.then(r => r.json()).then(me => (`+orderJS+`)('', me.csrf_token, 'OWN1'))`)); err != nil {
		t.Fatal(err)
	}
	got, err := run(tab, status)
	if err != nil {
		t.Fatal(err)
	}
	if got != "200" || orders() != 1 {
		t.Fatalf("same-origin write with the token: status %s, %d orders", got, orders())
	}
}
