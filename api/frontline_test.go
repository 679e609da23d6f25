package api_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/zhiliao/zhiliao/dashboards"
	"github.com/zhiliao/zhiliao/frontline"
	"github.com/zhiliao/zhiliao/internal/testbrowser"
	"github.com/zhiliao/zhiliao/model"
)

// queueOfTwo books two patients of department A into today's first slots
// and checks both in: tickets 1 and 2. It returns the front-line site (the
// fixture's API with the front-line pages), the tickets and their courses.
// frontSite serves f's API with the front-line pages and the login form
// they send a staff member to.
func frontSite(tb testing.TB, f *fixture) string {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.api.Front, f.api.FrontPatterns = frontline.New(f.db, quiet), frontline.Patterns
	pages := dashboards.New(f.db, quiet)
	pages.Throttle, pages.Clients = f.api.Throttle, f.api.Clients
	f.api.Pages = pages
	return newFixtureServer(tb, f)
}

func queueOfTwo(t *testing.T) (*fixture, string, [2]model.QueueTicket, [2]*model.Course) {
	f := newFixture(t)
	site := frontSite(t, f)
	desk := f.tokens[model.RoleFrontDesk]
	slots := f.slots(4)
	var tickets [2]model.QueueTicket
	var courses [2]*model.Course
	for i, name := range []string{"王小明", "李春花"} {
		courses[i], _ = f.course(f.plain, 3, name)
		var a model.Appointment
		f.mustDo(desk, "POST", "/api/v1/appointments", model.NewAppointment{CourseID: courses[i].ID, SlotID: slots[i].ID, Channel: "wechat"}, 201, &a)
	}
	f.clock.Set(slots[0].StartAt.Add(-20 * time.Minute))
	for i, c := range courses {
		var appt int64
		if err := f.db.QueryRowContext(t.Context(), "SELECT id FROM appointment WHERE course_id = ?", c.ID).Scan(&appt); err != nil {
			t.Fatal(err)
		}
		f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/appointments/%d/checkin", appt), nil, 201, &tickets[i])
	}
	return f, site, tickets, courses
}

// TestPatientLinkPages: a patient link opens nothing by GET (the landing
// page posts a same-origin form to set the session); a dead, revoked or
// made-up link shows a page that names no one; the patient page refuses a
// visitor without the patient's session; a form posted from another site
// sets no cookie.
func TestPatientLinkPages(t *testing.T) {
	f, site, _, courses := queueOfTwo(t)
	var link struct{ Token, URL string }
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", fmt.Sprintf("/api/v1/patients/%d/link", courses[1].PatientID), nil, 201, &link)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, header ...string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", site+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get(link.URL)
	if resp.StatusCode != 200 || len(resp.Cookies()) != 0 || !strings.Contains(body, `action="/p/`+link.Token+`"`) || strings.Contains(body, "李春花") {
		t.Fatalf("landing: %d, cookies %v, body %s", resp.StatusCode, resp.Cookies(), body)
	}
	if resp.Header.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("the landing page leaks its token in Referer: %q", resp.Header.Get("Referrer-Policy"))
	}
	for _, path := range []string{"/p/made-up-token", "/p/" + f.tokens[model.RoleFrontDesk]} {
		resp, body := get(path)
		if resp.StatusCode != http.StatusGone || !strings.Contains(body, "链接已失效") || strings.Contains(body, "李春花") || strings.Contains(body, "<form") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	if resp, body := get("/m/"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "请从医院发送的链接进入") {
		t.Errorf("/m/ without a session: %d %s", resp.StatusCode, body)
	}
	// A staff session is no patient session.
	if resp, _ := get("/m/", "Cookie", frontline.Cookie+"="+f.tokens[model.RoleFrontDesk]); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/m/ with the front desk's session: %d", resp.StatusCode)
	}
	post := func(origin string) *http.Response {
		req, _ := http.NewRequest("POST", site+"/p/"+link.Token, nil)
		req.Header.Set("Origin", origin)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("https://evil.example"); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("a cross-site post: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	u, _ := url.Parse(site)
	resp = post(site)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/m/" || len(resp.Cookies()) != 1 ||
		resp.Cookies()[0].Value != link.Token || !resp.Cookies()[0].HttpOnly || resp.Cookies()[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("opening the link from %s: %d %q %v", u.Host, resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	// The board needs a staff session: without one, the login page, coming back.
	if resp, _ := get("/queue/board?dept=1"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/dash/login?next=%2Fqueue%2Fboard") {
		t.Errorf("board without a session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get("/queue/board?dept=1", "Cookie", frontline.Cookie+"="+link.Token); resp.StatusCode != http.StatusForbidden {
		t.Errorf("board with a patient's session: %d", resp.StatusCode)
	}
}

// TestQueueBoardAPI: the display's data carries numbers and masked names,
// never a whole name; the latest call comes first; a department-bound
// account sees only its own department's board; the patient's own queue
// answers only to the patient.
func TestQueueBoardAPI(t *testing.T) {
	f, _, tickets, _ := queueOfTwo(t)
	desk := f.tokens[model.RoleFrontDesk]
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/queue/%d/call", tickets[1].ID), nil, 200, nil)
	f.clock.Add(time.Minute)
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/queue/%d/call", tickets[0].ID), nil, 200, nil)
	code, body := f.do(desk, "GET", fmt.Sprintf("/api/v1/queue/board?dept=%d", f.deptA.ID), nil)
	if code != 200 || strings.Contains(string(body), "王小明") || strings.Contains(string(body), "李春花") {
		t.Fatalf("board: %d %s", code, body)
	}
	var b model.QueueBoard
	f.mustDo(desk, "GET", fmt.Sprintf("/api/v1/queue/board?dept=%d", f.deptA.ID), nil, 200, &b)
	if len(b.Calling) != 2 || b.Calling[0].Number != tickets[0].Number || b.Calling[0].Name != model.MaskName("王小明") || len(b.Waiting) != 0 {
		t.Errorf("board: %+v", b)
	}
	// Department B's manager is bound to B: A's board is refused, and with
	// no dept the board is B's own.
	code, body = f.do(f.tokens[model.RoleDeptManager], "GET", fmt.Sprintf("/api/v1/queue/board?dept=%d", f.deptB.ID), nil)
	f.wantError(code, body, http.StatusForbidden, model.EFORBIDDEN, "")
	code, body = f.do(desk, "GET", "/api/v1/queue/board?dept=x", nil)
	f.wantError(code, body, http.StatusBadRequest, model.EINVALID, "dept")
	code, body = f.do(desk, "GET", "/api/v1/queue/board", nil)
	f.wantError(code, body, http.StatusBadRequest, model.EINVALID, "dept")
	code, body = f.do(desk, "GET", "/api/v1/patient/queue", nil)
	f.wantError(code, body, http.StatusForbidden, model.EFORBIDDEN, "")
}

// openOnPhone opens a patient's link on a phone-sized page and enters it
// (the 进入 form that sets the session).
func openOnPhone(ctx context.Context, url string) error {
	return testbrowser.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("open-submit")), chromedp.Click(chromedp.ID("open-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
}

// TestPatientPageInBrowser opens the link on a phone (390 × 844): the
// patient sees their ticket with the people ahead, which updates by itself
// when the desk calls; files a complaint; cannot reach another patient's
// archive or the department's queue with their session. The department's
// waiting-room display shows the call with the masked name. No console
// error, no sideways scroll.
func TestPatientPageInBrowser(t *testing.T) {
	f, site, tickets, courses := queueOfTwo(t)
	desk := f.tokens[model.RoleFrontDesk]
	var link struct{ Token, URL string }
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/patients/%d/link", courses[1].PatientID), nil, 201, &link)
	ctx, console, _ := testbrowser.Tab(t)
	defer testbrowser.ScreenshotOnFailure(t, ctx, "patient-page")
	if err := openOnPhone(ctx, site+link.URL); err != nil {
		t.Fatal(err)
	}
	ticket := func() (string, error) {
		return testbrowser.Run(ctx, chromedp.Evaluate[string](`(() => { const c = document.querySelector('[data-ticket]'); return c ? c.textContent : ''; })()`))
	}
	text, err := ticket()
	if err != nil || !strings.Contains(text, fmt.Sprintf("%d 号", tickets[1].Number)) || !strings.Contains(text, "前面还有 1 人") || !strings.Contains(text, "尚未开始") {
		t.Fatalf("ticket card %q %v", text, err)
	}
	// The desk calls the first patient: the page follows within its poll.
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/queue/%d/call", tickets[0].ID), nil, 200, nil)
	got, err := testbrowser.Run(ctx, chromedp.Poll[string](fmt.Sprintf(`(() => { const c = document.querySelector('[data-ticket]');
		return c && c.textContent.includes('当前叫号：%d 号') && c.textContent.includes('前面还有 0 人') && c.textContent; })()`, tickets[0].Number),
		chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		text, _ := ticket()
		t.Fatalf("after the call: %q %v", text, err)
	}
	_ = got
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/queue/%d/call", tickets[1].ID), nil, 200, nil)
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`(() => { const c = document.querySelector('[data-ticket]');
		return !!c && c.dataset.status === 'called' && c.textContent.includes('已叫号，请到治疗室'); })()`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("my call: %v", err)
	}
	// A complaint, with an empty one refused at the field first.
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("complaint-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-error-for="content"]').textContent === '请填写内容'`)); err != nil {
		t.Fatalf("an empty complaint: %v", err)
	}
	if err := testbrowser.Do(ctx, chromedp.SendKeys(chromedp.ID("complaint-content"), "候诊区座位太少"), chromedp.Click(chromedp.ID("complaint-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll('[data-complaint]')].some(c => c.textContent.includes('候诊区座位太少'))`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the complaint filed: %v", err)
	}
	if n := f.count("SELECT count(*) FROM complaint WHERE patient_id = ? AND content = ? AND channel = 'electronic'", courses[1].PatientID, "候诊区座位太少"); n != 1 {
		t.Errorf("%d complaints stored", n)
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		t.Errorf("console: %s", m)
	}
	wide, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || wide {
		t.Errorf("sideways scroll on the phone page: %v %v", wide, err)
	}
	// The patient's session reaches nothing but the patient's own rows.
	statuses, err := testbrowser.Run(ctx, chromedp.Evaluate[[]int](fmt.Sprintf(`Promise.all([
		fetch('/api/v1/patients/%d/archive').then(r => r.status),
		fetch('/api/v1/queue?dept=%d&date=%s').then(r => r.status),
		fetch('/api/v1/queue/board?dept=%d').then(r => r.status)])`, courses[0].PatientID, f.deptA.ID, model.DayOf(f.clock.Now()), f.deptA.ID),
		chromedp.EvalAwaitPromise))
	if err != nil || len(statuses) != 3 || statuses[0] != 403 || statuses[1] != 403 || statuses[2] != 403 {
		t.Errorf("the patient's session reached %v %v", statuses, err)
	}

	// The waiting-room display, as the front desk.
	board, consoleB, _ := testbrowser.Tab(t)
	defer testbrowser.ScreenshotOnFailure(t, board, "queue-board")
	if err := testbrowser.Do(board, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(fmt.Sprintf("%s/queue/board?dept=%d", site, f.deptA.ID)),
		chromedp.WaitVisible(chromedp.ID("login-form")), chromedp.SetValue(chromedp.ID("username"), "u_"+model.RoleFrontDesk),
		chromedp.SetValue(chromedp.ID("password"), password(model.RoleFrontDesk)), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	shown, err := testbrowser.Run(board, chromedp.Evaluate[[]string](`[document.getElementById('board-title').textContent,
		document.querySelector('#calling li.latest').textContent, document.body.textContent]`))
	if err != nil || !strings.Contains(shown[0], f.deptA.Name) || !strings.Contains(shown[1], fmt.Sprintf("%d 号", tickets[1].Number)) ||
		!strings.Contains(shown[1], model.MaskName("李春花")) || strings.Contains(shown[2], "李春花") || strings.Contains(shown[2], "王小明") {
		t.Errorf("board %q %v", shown, err)
	}
	for _, m := range testbrowser.ConsoleErrors(consoleB()) {
		t.Errorf("board console: %s", m)
	}
}

// TestNoticeDeliveryLogAndRetry: the desk reads a notice's delivery log
// and queues a dead notice again; a queued one cannot be retried, and a
// patient's session reaches neither.
func TestNoticeDeliveryLogAndRetry(t *testing.T) {
	f, _, _, _ := queueOfTwo(t)
	desk := f.tokens[model.RoleFrontDesk]
	var id int64
	if err := f.db.QueryRowContext(t.Context(), "SELECT id FROM notification WHERE status = 'queued' ORDER BY id LIMIT 1").Scan(&id); err != nil {
		t.Fatal("booking queued no notice:", err)
	}
	for range 2 {
		if _, err := f.db.RecordDelivery(t.Context(), id, "webhook", false, "webhook answered 503", 2); err != nil {
			t.Fatal(err)
		}
	}
	var log struct{ Items []model.NoticeDelivery }
	f.mustDo(desk, "GET", fmt.Sprintf("/api/v1/notifications/%d/deliveries", id), nil, 200, &log)
	if len(log.Items) != 2 || log.Items[1].Attempt != 2 || log.Items[1].OK || log.Items[1].Error != "webhook answered 503" {
		t.Fatalf("delivery log %+v", log.Items)
	}
	var n model.Notification
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/notifications/%d/retry", id), nil, 200, &n)
	if n.Status != model.NotifyQueued || n.Attempts != 2 {
		t.Errorf("retried: %+v", n)
	}
	code, body := f.do(desk, "POST", fmt.Sprintf("/api/v1/notifications/%d/retry", id), nil)
	f.wantError(code, body, http.StatusConflict, model.ECONFLICT, "")
	code, body = f.do(f.tokens[model.RoleClinician], "POST", "/api/v1/notifications/999999/retry", nil)
	f.wantError(code, body, http.StatusNotFound, model.ENOTFOUND, "")
}

// TestPadWorkstationInBrowser treats a laser patient by tapping only, on a
// tablet held upright (820 × 1180) and then turned (1180 × 820): 叫号, the
// consent signed with a finger on the canvas, 开始治疗 tapped twice (one
// session), a photo from the camera input, the laser record form with its
// required fields refused empty and then filled, 完成治疗 and 签名 as the
// signed-in clinician. The front desk can neither open the workstation
// nor sign; no console error, no sideways scroll.
func TestPadWorkstationInBrowser(t *testing.T) {
	f, site, _, _ := queueOfTwo(t)
	desk := f.tokens[model.RoleFrontDesk]
	c, _ := f.course(f.laser, 3, "赵六")
	var slot int64 // a place left in today's roster
	if err := f.db.QueryRowContext(t.Context(), "SELECT id FROM slot WHERE booked < capacity ORDER BY start_at DESC LIMIT 1").Scan(&slot); err != nil {
		t.Fatal(err)
	}
	var a model.Appointment
	f.mustDo(desk, "POST", "/api/v1/appointments", model.NewAppointment{CourseID: c.ID, SlotID: slot, Channel: "onsite"}, 201, &a)
	var tk model.QueueTicket
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/appointments/%d/checkin", a.ID), nil, 201, &tk)
	// The manager's second revision, longer than the tablet shows at once.
	var text model.ConsentTemplate
	f.mustDo(f.tokens[model.RoleDeptManager], "POST", fmt.Sprintf("/api/v1/projects/%d/consent-templates", f.laser.ID), map[string]any{
		"title": "知情同意书（激光治疗）", "body": strings.Repeat(f.consentText.Body+"\n\n", 12), "note": "补充风险条款"}, 201, &text)

	ctx, console, _ := testbrowser.Tab(t)
	defer testbrowser.ScreenshotOnFailure(t, ctx, "pad")
	if err := testbrowser.Do(ctx, chromedp.EmulateViewport(820, 1180, chromedp.EmulateMobile, chromedp.EmulateTouch), chromedp.Navigate(site+"/pad/"),
		chromedp.WaitVisible(chromedp.ID("login-form")), chromedp.SetValue(chromedp.ID("username"), "u_"+model.RoleClinician),
		chromedp.SetValue(chromedp.ID("password"), password(model.RoleClinician)), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)), chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-ticket="%d"]`, tk.ID))),
		chromedp.WaitVisible(chromedp.ID("call-submit")), chromedp.Click(chromedp.ID("call-submit")),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-ticket="%d"][data-status="called"]`, tk.ID))),
		chromedp.WaitVisible(chromedp.ID("consent-pad"))); err != nil {
		t.Fatal(err)
	}
	// The text in force is shown in full, and until it is scrolled to its
	// end the signature box and the button stay locked.
	shown, err := testbrowser.Run(ctx, chromedp.Evaluate[[]any](`(() => { const d = document.getElementById('consent-text');
		return [d.innerText, d.scrollHeight > d.clientHeight, document.getElementById('consent-submit').disabled,
			document.getElementById('consent-pad').classList.contains('locked')]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := shown[0].(string); !strings.Contains(body, "知情同意书（激光治疗）") || !strings.Contains(body, "自愿接受治疗") || shown[1] != true || shown[2] != true || shown[3] != true {
		t.Fatalf("before reading: text shown %q, needs scrolling %v, button disabled %v, box locked %v", shown[0], shown[1], shown[2], shown[3])
	}
	// A finger's stroke across the canvas where it is now on the screen.
	stroke := func() []chromedp.Action[chromedp.Void] {
		box, err := testbrowser.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.getElementById('consent-pad').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`))
		if err != nil {
			t.Fatal(err)
		}
		x, y, w, h := box[0], box[1], box[2], box[3]
		out := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x+w*0.1, y+h*0.5, chromedp.ButtonLeft)}
		for i := 1; i <= 20; i++ {
			out = append(out, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x+w*(0.1+0.04*float64(i)), y+h*(0.5+0.3*float64(i%3-1)), chromedp.ButtonLeft))
		}
		return append(out, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x+w*0.9, y+h*0.5, chromedp.ButtonLeft))
	}
	if err := testbrowser.Do(ctx, stroke()...); err != nil { // drawn on the locked box: nothing inked
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.getElementById('consent-hint').textContent.includes('滑到底部')`)); err != nil {
		t.Fatalf("a stroke before reading: %v", err)
	}
	// Read to the end: unlocked; an empty signature is refused at the field.
	if _, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`(() => { const d = document.getElementById('consent-text'); d.scrollTop = d.scrollHeight; return true; })()`)); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(ctx,
		chromedp.WaitEnabled(chromedp.ID("consent-submit")), chromedp.Click(chromedp.ID("consent-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-field="signature"]').textContent.includes('签名')`)); err != nil {
		t.Fatalf("an empty signature: %v", err)
	}
	// A finger's stroke across the canvas, then the signature.
	if err := testbrowser.Do(ctx, append(stroke(), chromedp.Click(chromedp.ID("consent-submit")), chromedp.WaitVisible(chromedp.ID("start-submit")))...); err != nil {
		t.Fatal(err)
	}
	var sigHash, textSM3 string
	var templateID int64
	if err := f.db.QueryRowContext(t.Context(), "SELECT signature_sha256, template_id, text_sm3 FROM consent WHERE course_id = ? AND status = 'signed'", c.ID).Scan(&sigHash, &templateID, &textSM3); err != nil || len(sigHash) != 64 {
		t.Fatalf("consent stored: %q %v", sigHash, err)
	}
	if templateID != text.ID || textSM3 != text.TextSM3 {
		t.Fatalf("the consent binds template %d (%s), want the revision shown, %d (%s)", templateID, textSM3, text.ID, text.TextSM3)
	}
	// The photo rule is on the screen before the treatment starts, not only as a refusal at the end.
	if rule, _ := testbrowser.Run(ctx, chromedp.Text(chromedp.ID("photo-rule"))); !strings.Contains(rule, "治疗前、治疗后照片") {
		t.Errorf("the photo rule before the start: %q", rule)
	}
	// 开始治疗 tapped twice: one session.
	if _, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`(() => { const b = document.getElementById('start-submit'); b.click(); b.click(); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(ctx, chromedp.WaitVisible(chromedp.ID("photo-input"))); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM treatment_session WHERE ticket_id = ?", tk.ID); n != 1 {
		t.Errorf("%d sessions after a double tap", n)
	}
	photo := filepath.Join(t.TempDir(), "wound.png")
	if err := os.WriteFile(photo, tinyPNG(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Not an image: refused before a byte is sent, saying why.
	notImage := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notImage, []byte("not a photo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{notImage}), chromedp.Click(chromedp.ID("photo-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-field="image"]').textContent.includes('只能上传图片')`)); err != nil {
		t.Fatalf("a text file as a photo: %v", err)
	}
	if err := testbrowser.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}), chromedp.Click(chromedp.ID("photo-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`(document.getElementById('photo-count') || {}).textContent?.includes('已上传 1 张')`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the photo: %v", err)
	}
	// The laser project needs a photo after the treatment too: completing
	// without it is refused with the rule, shown on the page.
	if err := testbrowser.Do(ctx, chromedp.SendKeys(chromedp.ID("rf-site"), "左面颊"), chromedp.SendKeys(chromedp.ID("rf-wavelength"), "1064"),
		chromedp.SendKeys(chromedp.ID("rf-energy"), "12.5"), chromedp.SetValue(chromedp.ID("rf-reaction"), "耐受良好"),
		chromedp.Click(chromedp.ID("complete-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`(() => { const m = document.getElementById('step-status'); return m.dataset.rule === 'images.required' && m.textContent.includes('需要治疗前后影像') && !/[A-Za-z]{4}/.test(m.textContent); })()`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("completing without the after photo: %v", err)
	}
	if err := testbrowser.Do(ctx, chromedp.SetValue(chromedp.ID("photo-phase"), "after"), chromedp.SetUploadFiles(chromedp.ID("photo-input"), []string{photo}),
		chromedp.Click(chromedp.ID("photo-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`(document.getElementById('photo-count') || {}).textContent?.includes('已上传 2 张')`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the after photo: %v", err)
	}
	// What was typed survived the redraws (sessionStorage); clear it to
	// check the required fields.
	kept, err := testbrowser.Run(ctx, chromedp.Evaluate[string](`document.getElementById('rf-wavelength').value`))
	if err != nil || kept != "1064" {
		t.Errorf("the typed wavelength after the redraw: %q %v", kept, err)
	}
	if err := testbrowser.Do(ctx, chromedp.SetValue(chromedp.ID("rf-wavelength"), "")); err != nil {
		t.Fatal(err)
	}
	// The laser record form: required fields refused empty, then filled.
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("complete-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-error-for="wavelength"]').textContent === '请填写波长'`)); err != nil {
		t.Fatalf("required fields: %v", err)
	}
	// An implausible wavelength is refused by the server with the field named under it.
	if err := testbrowser.Do(ctx, chromedp.SendKeys(chromedp.ID("rf-wavelength"), "-532"), chromedp.Click(chromedp.ID("complete-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.querySelector('[data-error-for="wavelength"]').textContent.includes('不在合理范围')`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("a wavelength of -532 nm: %v", err)
	}
	// Corrected, the record is reviewed as it will be signed: labels, values, units.
	if err := testbrowser.Do(ctx, chromedp.SetValue(chromedp.ID("rf-wavelength"), ""), chromedp.SendKeys(chromedp.ID("rf-wavelength"), "1064"),
		chromedp.Click(chromedp.ID("complete-submit")), chromedp.WaitVisible(chromedp.ID("sign-submit"))); err != nil {
		t.Fatal(err)
	}
	if review, _ := testbrowser.Run(ctx, chromedp.Text(chromedp.CSS("dl.record-view"))); !strings.Contains(review, "波长") || !strings.Contains(review, "1064 nm") ||
		!strings.Contains(review, "能量密度") || !strings.Contains(review, "12.5 J/cm²") || strings.Contains(review, "{") {
		t.Errorf("the record under review: %q", review)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("sign-submit")), chromedp.WaitVisible(chromedp.ID("record-signed"))); err != nil {
		t.Fatal(err)
	}
	var content, status string
	var signer int64
	if err := f.db.QueryRowContext(t.Context(), "SELECT content, status, signer_id FROM treatment_record WHERE course_id = ?", c.ID).Scan(&content, &status, &signer); err != nil ||
		status != model.RecordSigned || signer != f.staffA.ID || !strings.Contains(content, `"wavelength":1064`) || !strings.Contains(content, `"reaction":"耐受良好"`) {
		t.Errorf("record: %s %s %d %v", content, status, signer, err)
	}
	// The archive shows the record's SM2 signature verified; edited behind
	// the service's back, the same record shows as altered.
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("archive-open")), chromedp.WaitVisible(chromedp.CSS(`#archive td.sig-valid`))); err != nil {
		t.Fatalf("archive: %v", err)
	}
	f.tamper(fmt.Sprintf("UPDATE treatment_record SET content = replace(content, '1064', '532') WHERE course_id = %d", c.ID))
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("archive-open")), chromedp.WaitVisible(chromedp.CSS(`#archive td.sig-altered`))); err != nil {
		t.Fatalf("archive after an edit: %v", err)
	}
	for _, vp := range [][2]int64{{820, 1180}, {1180, 820}} {
		if err := testbrowser.Do(ctx, chromedp.EmulateViewport(vp[0], vp[1], chromedp.EmulateMobile, chromedp.EmulateTouch)); err != nil {
			t.Fatal(err)
		}
		wide, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || wide {
			t.Errorf("sideways scroll at %v: %v %v", vp, wide, err)
		}
	}
	small, err := testbrowser.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('button, .pad-ticket')].filter(b => b.offsetParent && b.getBoundingClientRect().height < 44).map(b => b.textContent)`))
	if err != nil || len(small) > 0 {
		t.Errorf("touch targets under 44 px: %q %v", small, err)
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		if strings.Contains(m.String(), "status of 409") || strings.Contains(m.String(), "status of 400") {
			continue // the browser's own lines for the refusals above, which the page shows
		}
		t.Errorf("console: %s", m)
	}
	// The front desk: no workstation, no signature.
	code, body := f.do(desk, "POST", fmt.Sprintf("/api/v1/records/%d/sign", 1), map[string]any{})
	f.wantError(code, body, http.StatusForbidden, model.EFORBIDDEN, "")
	code, body = f.do(desk, "GET", "/api/v1/workstation", nil)
	f.wantError(code, body, http.StatusForbidden, model.EFORBIDDEN, "")
}

// tinyPNG is a 2 × 2 PNG, a photo as far as the upload is concerned.
func tinyPNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// TestDeskInBrowser works a department's day at the front desk (1366 ×
// 900) by clicking only: a new patient's course found by name and booked
// into a slot of the calendar, with a receipt to print; the booking
// checked in and called; another patient queued as a walk-in. A clinician
// of department B asking for department A's desk is refused.
func TestDeskInBrowser(t *testing.T) {
	f, site, _, _ := queueOfTwo(t)
	booked, _ := f.course(f.plain, 2, "孙七")
	walkin, _ := f.course(f.plain, 2, "周八")
	ctx, console, _ := testbrowser.Tab(t)
	defer testbrowser.ScreenshotOnFailure(t, ctx, "desk")
	if err := testbrowser.Do(ctx, chromedp.EmulateViewport(1366, 900), chromedp.Navigate(fmt.Sprintf("%s/desk/?dept=%d", site, f.deptA.ID)),
		chromedp.WaitVisible(chromedp.ID("login-form")), chromedp.SetValue(chromedp.ID("username"), "u_"+model.RoleFrontDesk),
		chromedp.SetValue(chromedp.ID("password"), password(model.RoleFrontDesk)), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.SendKeys(chromedp.ID("course-filter"), "孙七")); err != nil {
		t.Fatal(err)
	}
	pick := func(course int64) {
		t.Helper()
		if _, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const s = document.getElementById('course'); s.value = '%d';
			s.dispatchEvent(new Event('change')); return s.value === '%d'; })()`, course, course))); err != nil {
			t.Fatal(err)
		}
	}
	pick(booked.ID)
	var receipt string
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.CSS(`button.slot:not([disabled])`)), chromedp.WaitVisible(chromedp.ID("receipt-print"))); err != nil {
		t.Fatal(err)
	}
	receipt, err := testbrowser.Run(ctx, chromedp.Evaluate[string](`document.getElementById('receipt').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	var appt model.Appointment
	if err := f.db.QueryRowContext(t.Context(), "SELECT id, receipt_no FROM appointment WHERE course_id = ?", booked.ID).Scan(&appt.ID, &appt.ReceiptNo); err != nil {
		t.Fatal("no appointment booked:", err)
	}
	if !strings.Contains(receipt, appt.ReceiptNo) || !strings.Contains(receipt, "孙七") || !strings.Contains(receipt, f.deptA.Name) ||
		!strings.Contains(receipt, f.inst.Name) || !strings.Contains(receipt, "2026/03/02") || !strings.Contains(receipt, f.roomA.Name) ||
		!strings.Contains(receipt, f.staffA.Name) || !strings.Contains(receipt, f.plain.Precautions) {
		t.Errorf("receipt %q, appointment %s: want the hospital, the date with its year, room, therapist and precautions", receipt, appt.ReceiptNo)
	}
	// The receipt's QR code, as the browser draws it, is read by ZXing as the patient's link.
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelector('#receipt-qr img'); return !!i && i.complete && i.naturalWidth > 0; })()`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatal("the receipt's QR code did not load:", err)
	}
	// In view first: under load the dialog may still be settling, and a
	// screenshot of a box partly outside the viewport is cut.
	if err := testbrowser.Do(ctx, chromedp.ScrollIntoView(`#receipt-qr img`), chromedp.Sleep(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	shot, err := testbrowser.Run(ctx, chromedp.ScreenshotScale(`#receipt-qr img`, 2, chromedp.NodeVisible))
	if err != nil {
		t.Fatal(err)
	}
	if text := decodeQR(t, shot); !strings.HasPrefix(text, site+"/p/") {
		t.Errorf("the receipt's QR code reads %q, want a link under %s/p/", text, site)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-checkin="%d"]`, appt.ID))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-appointment="%d"][data-status="checked_in"]`, appt.ID)))); err != nil {
		t.Fatal(err)
	}
	var ticket int64
	if err := f.db.QueryRowContext(t.Context(), "SELECT id FROM queue_ticket WHERE appointment_id = ?", appt.ID).Scan(&ticket); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-call="%d"]`, ticket))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`li[data-ticket="%d"][data-status="called"]`, ticket)))); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("receipt-close"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`(() => { const f = document.getElementById('course-filter'); f.value = '周八';
		f.dispatchEvent(new Event('input')); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	pick(walkin.ID)
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("walkin-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll('#queue li')].some(li => li.textContent.includes('周八（现场）'))`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the walk-in: %v", err)
	}
	// A caller found by the last four digits of the phone, then by name; the
	// booking still to come is moved to another slot (a new receipt) and then
	// cancelled with its reason.
	caller, _ := f.course(f.plain, 3, "吴十一")
	var later model.Appointment
	var laterSlot int64
	if err := f.db.QueryRowContext(t.Context(), "SELECT id FROM slot WHERE booked < capacity ORDER BY start_at DESC LIMIT 1").Scan(&laterSlot); err != nil {
		t.Fatal(err)
	}
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", "/api/v1/appointments", model.NewAppointment{CourseID: caller.ID, SlotID: laterSlot, Channel: "phone"}, 201, &later)
	search := func(q string) {
		t.Helper()
		if err := testbrowser.Do(ctx, chromedp.SetValue(chromedp.ID("search-q"), q), chromedp.Click(chromedp.ID("search-submit"))); err != nil {
			t.Fatal(err)
		}
		if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.getElementById('search-status').textContent.startsWith('找到') || document.getElementById('search-status').textContent.startsWith('本科室没有')`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
	}
	search("5678")
	if names, _ := testbrowser.Run(ctx, chromedp.Evaluate[string](`document.getElementById('search-results').innerText`)); !strings.Contains(names, "吴十一") || !strings.Contains(names, "孙七") {
		t.Errorf("the last four digits found %q", names)
	}
	search("吴十")
	// The patient's shared documents, from the card: none yet for a patient never treated.
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-documents="%d"]`, caller.PatientID)))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`document.querySelector('[data-document-list="%d"]').textContent.includes('还没有共享文档')`, caller.PatientID),
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the desk's documents of a patient: %v", err)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-future="%d"] [data-move]`, later.ID))),
		chromedp.Click(chromedp.CSS(`[data-move-to]`)), chromedp.WaitVisible(chromedp.ID("receipt-print"))); err != nil {
		t.Fatal(err)
	}
	var moved model.Appointment
	if err := f.db.QueryRowContext(t.Context(), "SELECT id, receipt_no FROM appointment WHERE course_id = ? AND status = 'booked'", caller.ID).Scan(&moved.ID, &moved.ReceiptNo); err != nil {
		t.Fatal("no moved appointment:", err)
	}
	if r, _ := testbrowser.Run(ctx, chromedp.Text(chromedp.ID("receipt-no"))); r != moved.ReceiptNo || moved.ID == later.ID {
		t.Errorf("the receipt after the move shows %q, want the new booking %s", r, moved.ReceiptNo)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("receipt-close"))); err != nil {
		t.Fatal(err)
	}
	search("吴十一")
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-future="%d"] [data-cancel]`, moved.ID))),
		chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`[data-cancel-reason="%d"]`, moved.ID)), "病情变化"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-cancel-confirm="%d"]`, moved.ID)))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.getElementById('search-action-status')?.textContent.includes('已取消')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("the cancel: %v", err)
	}
	var status, reason string
	if err := f.db.QueryRowContext(t.Context(), "SELECT status, cancel_reason FROM appointment WHERE id = ?", moved.ID).Scan(&status, &reason); err != nil || status != model.ApptCancelled || reason != "病情变化" {
		t.Errorf("the cancelled booking: %s %q %v", status, reason, err)
	}
	wide, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || wide {
		t.Errorf("sideways scroll at 1366: %v %v", wide, err)
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		t.Errorf("console: %s", m)
	}
	code, body := f.do(f.tokenB, "GET", fmt.Sprintf("/api/v1/desk?dept=%d", f.deptA.ID), nil)
	f.wantError(code, body, http.StatusForbidden, model.EFORBIDDEN, "")
}

// decodeQR reads the QR code in a PNG screenshot with ZXing.
func decodeQR(t *testing.T, shot []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("ZXing does not read the QR code: %v", err)
	}
	return res.GetText()
}

// bookedPatient books a new patient of department A into today's first
// slot (capacity 1 each, four slots) and returns the appointment, the
// slots and the patient's link token.
func bookedPatient(t *testing.T, f *fixture, name string, slots []*model.Slot, slot int) (model.Appointment, string) {
	desk := f.tokens[model.RoleFrontDesk]
	c, _ := f.course(f.plain, 3, name)
	var a model.Appointment
	f.mustDo(desk, "POST", "/api/v1/appointments", model.NewAppointment{CourseID: c.ID, SlotID: slots[slot].ID, Channel: "wechat"}, 201, &a)
	var link struct{ Token, URL string }
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/patients/%d/link", c.PatientID), nil, 201, &link)
	return a, link.Token
}

// TestRescheduleAndNoticeLevels: a patient moves their own appointment to
// another slot in one transaction; a move to a full slot is refused and
// leaves the appointment where it was; another patient's appointment and a
// checked-in one cannot be moved. The patient opts out of reminders (not
// of the important notices); their reminders are withheld from every
// channel while another patient's stay queued.
func TestRescheduleAndNoticeLevels(t *testing.T) {
	f := newFixture(t)
	slots := f.slots(1)
	a, token := bookedPatient(t, f, "吴九", slots, 0)
	other, otherToken := bookedPatient(t, f, "郑十", slots, 2)
	third, thirdToken := bookedPatient(t, f, "冯一", slots, 3) // stays booked: its reminder goes out
	var moved model.Appointment
	f.mustDo(token, "POST", fmt.Sprintf("/api/v1/appointments/%d/reschedule", a.ID), map[string]any{"slot_id": slots[1].ID}, 200, &moved)
	if moved.SlotID != slots[1].ID || moved.Status != model.ApptBooked || moved.CourseID != a.CourseID {
		t.Fatalf("moved: %+v", moved)
	}
	if n := f.count("SELECT booked FROM slot WHERE id = ?", slots[0].ID); n != 0 {
		t.Errorf("the old slot still holds %d", n)
	}
	if n := f.count("SELECT count(*) FROM appointment WHERE id = ? AND status = 'cancelled'", a.ID); n != 1 {
		t.Errorf("the old appointment is not cancelled")
	}
	// Slot 2 is full (the other patient): refused, nothing changes.
	code, body := f.do(token, "POST", fmt.Sprintf("/api/v1/appointments/%d/reschedule", moved.ID), map[string]any{"slot_id": slots[2].ID})
	f.wantError(code, body, http.StatusConflict, model.ECONFLICT, "slot.full")
	if n := f.count("SELECT count(*) FROM appointment WHERE id = ? AND status = 'booked' AND slot_id = ?", moved.ID, slots[1].ID); n != 1 {
		t.Errorf("a refused move changed the appointment")
	}
	if n := f.count("SELECT booked FROM slot WHERE id = ?", slots[1].ID); n != 1 {
		t.Errorf("a refused move left slot 1 with %d", n)
	}
	code, body = f.do(token, "POST", fmt.Sprintf("/api/v1/appointments/%d/reschedule", other.ID), map[string]any{"slot_id": slots[3].ID})
	if code != http.StatusForbidden && code != http.StatusNotFound {
		t.Errorf("moving another patient's appointment: %d %s", code, body)
	}
	code, body = f.do(token, "POST", fmt.Sprintf("/api/v1/appointments/%d/reschedule", moved.ID), map[string]any{})
	f.wantError(code, body, http.StatusBadRequest, model.EINVALID, "slot_id")
	f.clock.Set(slots[2].StartAt.Add(-20 * time.Minute))
	desk := f.login("u_"+model.RoleFrontDesk, password(model.RoleFrontDesk)) // the clock moved past the idle timeout
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/appointments/%d/checkin", other.ID), nil, 201, nil)
	code, body = f.do(otherToken, "POST", fmt.Sprintf("/api/v1/appointments/%d/reschedule", other.ID), map[string]any{"slot_id": slots[3].ID})
	f.wantError(code, body, http.StatusConflict, model.ECONFLICT, "appointment.not_booked")
	// The moved appointment's slot (08:30) has started: neither the patient
	// nor the desk may cancel it any more; the close-out will call it a no-show.
	code, body = f.do(token, "POST", fmt.Sprintf("/api/v1/appointments/%d/cancel", moved.ID), map[string]any{"reason": "忘了"})
	f.wantError(code, body, http.StatusConflict, model.ECONFLICT, "appointment.started")
	code, body = f.do(desk, "POST", fmt.Sprintf("/api/v1/appointments/%d/cancel", moved.ID), map[string]any{"reason": "患者来电"})
	f.wantError(code, body, http.StatusConflict, model.ECONFLICT, "appointment.started")
	// Within the project's cut-off (15 minutes here) the patient is sent to
	// the desk, which may still cancel until the start.
	f.clock.Set(third.PlannedAt.Add(-10 * time.Minute))
	code, body = f.do(thirdToken, "POST", fmt.Sprintf("/api/v1/appointments/%d/cancel", third.ID), map[string]any{"reason": "有事"})
	f.wantError(code, body, http.StatusConflict, model.ECONFLICT, "appointment.self_cutoff")
	if n := f.count("SELECT count(*) FROM appointment WHERE status = 'booked' AND id IN (?, ?)", moved.ID, third.ID); n != 2 {
		t.Errorf("refused cancels changed %d appointments", 2-n)
	}
	f.clock.Set(slots[2].StartAt.Add(-20 * time.Minute)) // back, before the other sessions' idle timeout

	// Notice levels.
	var prefs struct{ Items []model.NoticePref }
	f.mustDo(token, "GET", "/api/v1/patient/notice-preferences", nil, 200, &prefs)
	if len(prefs.Items) != len(model.NoticeLevels) || prefs.Items[0].Level != model.NoticeLevelCritical || !prefs.Items[0].Mandatory {
		t.Fatalf("levels %+v", prefs.Items)
	}
	code, body = f.do(token, "PUT", "/api/v1/patient/notice-preferences", map[string]any{"level": model.NoticeLevelCritical, "opted_out": true})
	f.wantError(code, body, http.StatusConflict, model.ECONFLICT, "notice.mandatory")
	code, body = f.do(token, "PUT", "/api/v1/patient/notice-preferences", map[string]any{"level": "everything", "opted_out": true})
	f.wantError(code, body, http.StatusBadRequest, model.EINVALID, "level")
	f.mustDo(token, "PUT", "/api/v1/patient/notice-preferences", map[string]any{"level": model.NotifyReminder, "opted_out": true}, 200, &prefs)
	if !prefs.Items[1].OptedOut || prefs.Items[1].Level != model.NotifyReminder {
		t.Errorf("after opting out: %+v", prefs.Items)
	}
	code, body = f.do(desk, "PUT", "/api/v1/patient/notice-preferences", map[string]any{"level": model.NotifyReminder, "opted_out": true})
	f.wantError(code, body, http.StatusForbidden, model.EFORBIDDEN, "")
	// Reminders for the day: the opted-out patient's is withheld, the
	// other's stays queued for the channel.
	f.clock.Set(slots[0].StartAt.Add(-3 * time.Hour))
	if n, err := f.db.QueueReminders(t.Context(), f.inst.ID, model.DayOf(slots[0].StartAt)); err != nil || n == 0 {
		t.Fatalf("reminders queued: %d %v", n, err)
	}
	if n, err := f.db.WithholdOptedOut(t.Context()); err != nil || n != 1 {
		t.Errorf("withheld %d %v", n, err)
	}
	if n := f.count("SELECT count(*) FROM notification WHERE kind = 'reminder' AND status = 'withheld' AND patient_id = ?", moved.PatientID); n != 1 {
		t.Errorf("%d of the patient's reminders withheld", n)
	}
	if n := f.count("SELECT count(*) FROM notification WHERE kind = 'reminder' AND status = 'queued' AND patient_id = ?", third.PatientID); n != 1 {
		t.Errorf("%d reminders of another patient queued", n)
	}
	if n := f.count("SELECT count(*) FROM notification WHERE critical = 1 AND status = 'withheld'"); n != 0 {
		t.Errorf("%d important notices withheld", n)
	}
}

// TestPatientReschedulesInBrowser: on the phone the patient moves the
// appointment to another slot of the day and opts out of reminders, with
// the important notices' switch locked on.
func TestPatientReschedulesInBrowser(t *testing.T) {
	f := newFixture(t)
	site := frontSite(t, f)
	slots := f.slots(2)
	a, token := bookedPatient(t, f, "吴九", slots, 0)
	ctx, console, _ := testbrowser.Tab(t)
	defer testbrowser.ScreenshotOnFailure(t, ctx, "patient-reschedule")
	if err := testbrowser.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(site+"/p/"+token),
		chromedp.Click(chromedp.ID("open-submit")), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-reschedule="%d"]`, a.ID))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-slot="%d"]`, slots[1].ID)))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`(window.confirm = () => true, true)`)); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-slot="%d"]`, slots[1].ID)))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`!document.querySelector('[data-appointment="%d"]') && !!document.querySelector('[data-appointment]')`, a.ID),
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the moved appointment on the page: %v", err)
	}
	if n := f.count("SELECT count(*) FROM appointment WHERE course_id = ? AND status = 'booked' AND slot_id = ?", a.CourseID, slots[1].ID); n != 1 {
		t.Errorf("%d appointments in the new slot", n)
	}
	locked, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`(() => { const c = document.querySelector('[data-level="critical"]'); return !!c && c.checked && c.disabled; })()`))
	if err != nil || !locked {
		t.Errorf("the important notices' switch is not locked on: %v %v", locked, err)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.CSS(`[data-level="reminder"]`))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.getElementById('prefs-status').textContent.includes('已退订')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("opting out: %v", err)
	}
	if n := f.count("SELECT count(*) FROM notice_preference WHERE patient_id = ? AND level = 'reminder'", a.PatientID); n != 1 {
		t.Errorf("%d opt-outs stored", n)
	}
	wide, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || wide {
		t.Errorf("sideways scroll: %v %v", wide, err)
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		t.Errorf("console: %s", m)
	}
}

// TestDeskStopInBrowser: the department manager stops a roster of the day
// (停诊) from the desk page: the booked patient's appointment is cancelled
// and an important change notice queued for them; the front desk's page
// offers no 停诊.
func TestDeskStopInBrowser(t *testing.T) {
	f := newFixture(t)
	site := frontSite(t, f)
	slots := f.slots(2)
	a, _ := bookedPatient(t, f, "陈二", slots, 0)
	ctx, console := staffTab(t, site, fmt.Sprintf("/desk/?dept=%d", f.deptA.ID), model.RoleDeptManager)
	defer testbrowser.ScreenshotOnFailure(t, ctx, "desk-stop")
	if err := testbrowser.Do(ctx, chromedp.EmulateViewport(1366, 900), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-stop="%d"]`, slots[0].RosterID)))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`(window.prompt = () => '设备故障', true)`)); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-stop="%d"]`, slots[0].RosterID))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-appointment="%d"][data-status="cancelled"]`, a.ID)))); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM roster WHERE id = ? AND status = 'stopped'", slots[0].RosterID); n != 1 {
		t.Errorf("the roster is not stopped")
	}
	if n := f.count("SELECT count(*) FROM notification WHERE patient_id = ? AND kind = 'change' AND critical = 1", a.PatientID); n != 1 {
		t.Errorf("%d change notices for the patient", n)
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		t.Errorf("console: %s", m)
	}
	deskTab, _ := staffTab(t, site, fmt.Sprintf("/desk/?dept=%d", f.deptA.ID), model.RoleFrontDesk)
	if err := testbrowser.Do(deskTab, chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	if n, err := testbrowser.Run(deskTab, chromedp.Evaluate[int](`document.querySelectorAll('[data-stop]').length`)); err != nil || n != 0 {
		t.Errorf("the front desk is offered 停诊 %d times (%v)", n, err)
	}
}

// TestDisplayBoardInBrowser: the desk makes a display link; the screen
// opens it with no staff session, and when the desk calls a patient the
// board names the room and speaks the call in Chinese (once the voice is
// switched on); revoked, the screen says so within seconds.
func TestDisplayBoardInBrowser(t *testing.T) {
	f, site, tickets, _ := queueOfTwo(t)
	f.tamper(fmt.Sprintf("UPDATE room SET name = '激光二室' WHERE id = %d", f.roomA.ID))
	ctx, console, _ := testbrowser.Tab(t)
	defer testbrowser.ScreenshotOnFailure(t, ctx, "display")
	if err := testbrowser.Do(ctx, chromedp.EmulateViewport(1366, 900), chromedp.Navigate(fmt.Sprintf("%s/desk/?dept=%d", site, f.deptA.ID)),
		chromedp.WaitVisible(chromedp.ID("login-form")), chromedp.SetValue(chromedp.ID("username"), "u_"+model.RoleFrontDesk),
		chromedp.SetValue(chromedp.ID("password"), password(model.RoleFrontDesk)), chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)), chromedp.Click(chromedp.ID("display-make")), chromedp.WaitVisible(chromedp.ID("display-url"))); err != nil {
		t.Fatal(err)
	}
	href, err := testbrowser.Run(ctx, chromedp.Evaluate[string](`document.getElementById('display-url').href`))
	if err != nil || !strings.HasPrefix(href, site+"/queue/display/") {
		t.Fatalf("the display link %q %v", href, err)
	}
	// The screen: no cookie at all.
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(ctx, chromedp.Navigate(href), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Evaluate[bool](`(() => { window.spoken = []; speechSynthesis.speak = u => spoken.push(u.text + '|' + u.lang); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("voice"))); err != nil {
		t.Fatal(err)
	}
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", fmt.Sprintf("/api/v1/queue/%d/call", tickets[0].ID), nil, 200, nil)
	called, err := testbrowser.Run(ctx, chromedp.Poll[[]string](`(() => { const li = document.querySelector('#calling li.latest');
		const said = spoken.find(s => s.startsWith('请 1 号'));
		return li && said && [li.textContent, said]; })()`, chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatal("the call on the board:", err)
	}
	if !strings.Contains(called[0], "激光二室") || called[1] != "请 1 号 王某明 到 激光二室 就诊|zh-CN" {
		t.Errorf("the call shows %q and says %q", called[0], called[1])
	}
	if strings.Contains(called[0], "王小明") {
		t.Errorf("the board shows the whole name: %q", called[0])
	}
	var displays struct{ Items []model.Display }
	f.mustDo(f.tokens[model.RoleFrontDesk], "GET", fmt.Sprintf("/api/v1/displays?dept=%d", f.deptA.ID), nil, 200, &displays)
	if len(displays.Items) != 1 {
		t.Fatalf("displays %+v", displays.Items)
	}
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", fmt.Sprintf("/api/v1/displays/%d/revoke", displays.Items[0].ID), nil, 200, nil)
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.getElementById('state').textContent.includes('已撤销') && document.getElementById('content').hidden`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Errorf("the revoked screen: %v", err)
	}
	code, body := f.do("", "GET", "/api/v1/display/"+strings.TrimPrefix(href, site+"/queue/display/")+"/board", nil)
	f.wantError(code, body, http.StatusUnauthorized, model.EUNAUTHORIZED, "")
	code, body = f.do(f.tokenB, "POST", "/api/v1/displays", map[string]any{"dept_id": f.deptA.ID})
	f.wantError(code, body, http.StatusForbidden, model.EFORBIDDEN, "")
	for _, m := range testbrowser.ConsoleErrors(console()) {
		if !strings.Contains(m.String(), "status of 401") { // the revoked link's refusal, on purpose
			t.Errorf("console: %s", m)
		}
	}
}
