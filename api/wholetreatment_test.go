package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testbrowser"
	"github.com/zhiliao/zhiliao/model"
)

// staffTab is a browser logged in through the login form as user, on path.
func staffTab(t *testing.T, site, path, user string) (context.Context, func() []chromedp.ConsoleMessage) {
	ctx, console, _ := testbrowser.Tab(t)
	if err := testbrowser.Do(ctx, chromedp.Navigate(site+path), chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SetValue(chromedp.ID("username"), "u_"+user), chromedp.SetValue(chromedp.ID("password"), password(user)),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.WaitVisible(chromedp.CSS(`body[data-page]`))); err != nil {
		t.Fatal(err)
	}
	return ctx, console
}

// waitFor polls a page expression until it is true.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestWholeTreatmentByClicking: a whole treatment, each person at their
// own page, by clicking only (issue 19). An HIS order arrives; the
// therapist merges it into an application, assesses and plans the course
// on the tablet; the front desk books the patient and hands over the
// phone link; the patient sees the booking on the phone; the desk checks
// the patient in; on the tablet the therapist calls, treats, fills the
// record, signs it and sends the survey; the patient answers it on the
// phone; after the next ETL run the session is on the 总览 dashboard.
func TestWholeTreatmentByClicking(t *testing.T) {
	f := newFixture(t)
	site := frontSite(t, f)
	slots := f.slots(2) // the department's roster of the day, made in advance
	o := f.paidOrder(f.plain, 1, "钱多多")

	pad, padConsole := staffTab(t, site, "/pad/", model.RoleClinician)
	defer testbrowser.ScreenshotOnFailure(t, pad, "whole-pad")
	if err := testbrowser.Do(pad, chromedp.EmulateViewport(1180, 820, chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-intake="o%d"]`, o.ID))), chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-intake="o%d"]`, o.ID))),
		chromedp.Click(chromedp.ID("merge-submit")), chromedp.WaitVisible(chromedp.ID("assessment-form")),
		chromedp.SendKeys(chromedp.ID("as-complaint"), "腰痛两周"), chromedp.SendKeys(chromedp.ID("as-findings"), "腰椎活动受限"),
		chromedp.SendKeys(chromedp.ID("as-score"), "60"), chromedp.Click(chromedp.ID("assess-submit")),
		chromedp.WaitVisible(chromedp.ID("plan-submit")), chromedp.Click(chromedp.ID("plan-submit"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, pad, "the intake emptied", `!document.querySelector('[data-intake]')`)
	var course model.Course
	if err := f.db.QueryRowContext(t.Context(), "SELECT c.id, c.patient_id FROM course c JOIN application a ON a.id = c.application_id JOIN his_order o ON o.application_id = a.id WHERE o.id = ?",
		o.ID).Scan(&course.ID, &course.PatientID); err != nil {
		t.Fatal("no course planned from the order:", err)
	}

	desk, deskConsole := staffTab(t, site, fmt.Sprintf("/desk/?dept=%d", f.deptA.ID), model.RoleFrontDesk)
	defer testbrowser.ScreenshotOnFailure(t, desk, "whole-desk")
	if err := testbrowser.Do(desk, chromedp.EmulateViewport(1366, 900), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(desk, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const f = document.getElementById('course-filter'); f.value = '钱多多';
		f.dispatchEvent(new Event('input')); const s = document.getElementById('course'); s.value = '%d'; s.dispatchEvent(new Event('change')); return s.value === '%d'; })()`, course.ID, course.ID))); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(desk, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-slot="%d"]`, slots[0].ID))), chromedp.WaitVisible(chromedp.ID("receipt-print")),
		chromedp.Click(chromedp.ID("receipt-close")), chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-link="%d"]`, course.PatientID)))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, desk, "the phone link", `document.getElementById('link-status').textContent.includes('/p/')`)
	linkText, _ := testbrowser.Run(desk, chromedp.Evaluate[string](`document.getElementById('link-status').textContent`))
	link := linkText[strings.Index(linkText, "/p/"):]

	phone, phoneConsole, _ := testbrowser.Tab(t)
	defer testbrowser.ScreenshotOnFailure(t, phone, "whole-phone")
	if err := testbrowser.Do(phone, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(site+link),
		chromedp.Click(chromedp.ID("open-submit")), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, phone, "the booking on the phone", `[...document.querySelectorAll('[data-appointment]')].some(c => c.textContent.includes('运动疗法'))`)

	// The patient arrives: the desk checks them in.
	f.clock.Set(slots[0].StartAt.Add(-10 * time.Minute))
	if err := testbrowser.Do(desk, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-checkin]`)), chromedp.Click(chromedp.CSS(`[data-checkin]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-appointment][data-status="checked_in"]`))); err != nil {
		t.Fatal(err)
	}
	var ticket int64
	if err := f.db.QueryRowContext(t.Context(), "SELECT id FROM queue_ticket WHERE course_id = ?", course.ID).Scan(&ticket); err != nil {
		t.Fatal(err)
	}

	// The tablet sees the patient arrive, by itself.
	waitFor(t, pad, "the patient in the tablet's queue", fmt.Sprintf(`!!document.querySelector('[data-ticket="%d"]')`, ticket))
	if err := testbrowser.Do(pad, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-ticket="%d"]`, ticket))), chromedp.Click(chromedp.ID("call-submit")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-ticket="%d"][data-status="called"]`, ticket))),
		chromedp.Click(chromedp.ID("start-submit")), chromedp.WaitVisible(chromedp.ID("record-form")),
		chromedp.SendKeys(chromedp.ID("rf-site"), "腰部"), chromedp.SendKeys(chromedp.ID("rf-method"), "核心稳定训练"),
		chromedp.SetValue(chromedp.ID("rf-intensity"), "中"), chromedp.SendKeys(chromedp.ID("rf-minutes"), "30"),
		chromedp.SetValue(chromedp.ID("rf-reaction"), "耐受良好"), chromedp.Click(chromedp.ID("complete-submit")),
		chromedp.WaitVisible(chromedp.ID("sign-submit")), chromedp.Click(chromedp.ID("sign-submit")),
		chromedp.WaitVisible(chromedp.ID("survey-submit")), chromedp.Click(chromedp.ID("survey-submit")),
		chromedp.WaitVisible(chromedp.ID("survey-sent"))); err != nil {
		t.Fatal(err)
	}

	// The patient answers the survey on the phone.
	if err := testbrowser.Do(phone, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`form[data-survey]`))); err != nil {
		t.Fatal(err)
	}
	for _, dim := range model.SurveyDimensions {
		if err := testbrowser.Do(phone, chromedp.Click(chromedp.CSS(fmt.Sprintf(`form[data-survey] input[name="%s"][value="5"]`, dim)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := testbrowser.Do(phone, chromedp.Click(chromedp.CSS(`form[data-survey] button[type="submit"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, phone, "the survey answered", `document.getElementById('surveys').textContent.includes('感谢您的评价')`)
	if n := f.count("SELECT count(*) FROM survey WHERE course_id = ? AND status = 'answered'", course.ID); n != 1 {
		t.Errorf("%d answered surveys", n)
	}

	// The next ETL run; the session is on the overview.
	if err := (&cdc.Relay{Core: f.db, Warehouse: f.wh}).Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.etl.Run(t.Context(), etl.Options{Job: "manual"}); err != nil {
		t.Fatal(err)
	}
	day := model.DayOf(slots[0].StartAt)
	dash, dashConsole := staffTab(t, site, fmt.Sprintf("/dash/?from=%s&to=%s", day, day), model.RoleDeptManager)
	defer testbrowser.ScreenshotOnFailure(t, dash, "whole-dash")
	waitFor(t, dash, "the session on the overview", `(() => { const b = document.querySelector('[data-kpi="sessions"] .kpi-range b'); return !!b && b.textContent.trim() === '1'; })()`)

	for name, console := range map[string]func() []chromedp.ConsoleMessage{"pad": padConsole, "desk": deskConsole, "phone": phoneConsole, "dashboard": dashConsole} {
		for _, m := range testbrowser.ConsoleErrors(console()) {
			t.Errorf("%s console: %s", name, m)
		}
	}
}
