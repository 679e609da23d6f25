package api_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/zhiliao/zhiliao/internal/testbrowser"
	"github.com/zhiliao/zhiliao/model"
)

// TestLostResponseWritesOnce: the patient sends a complaint, the server
// commits it, and the answer is lost on the way back (the browser sees a
// reset connection). The page keeps what was typed and says so; sent again,
// the same complaint is answered from the first write: one complaint.
func TestLostResponseWritesOnce(t *testing.T) {
	f, site, _, courses := queueOfTwo(t)
	desk := f.tokens[model.RoleFrontDesk]
	var link struct{ Token, URL string }
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/patients/%d/link", courses[1].PatientID), nil, 201, &link)
	ctx, console, _ := testbrowser.Tab(t)
	defer testbrowser.ScreenshotOnFailure(t, ctx, "lost-response")
	if err := openOnPhone(ctx, site+link.URL); err != nil {
		t.Fatal(err)
	}
	// Every answer to a POST of a complaint is held at the response stage:
	// the first is dropped, the later ones let through.
	var posts atomic.Int32
	paused := make(chan *fetch.EventRequestPaused, 8)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			paused <- e
		}
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for e := range paused {
			if e.Request.Method == "POST" && posts.Add(1) == 1 {
				chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: e.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
				continue
			}
			chromedp.Call(ctx, fetch.ContinueResponse, fetch.ContinueResponseParams{RequestID: e.RequestID})
		}
	}()
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*/api/v1/complaints", RequestStage: fetch.RequestStageResponse}}}); err != nil {
		t.Fatal(err)
	}
	complaints := func() int {
		return f.count("SELECT count(*) FROM complaint WHERE patient_id = ? AND content = ?", courses[1].PatientID, "洗手间太远")
	}
	if err := testbrowser.Do(ctx, chromedp.SendKeys(chromedp.ID("complaint-content"), "洗手间太远"), chromedp.Click(chromedp.ID("complaint-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`document.body.textContent.includes('网络连接中断')`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the lost answer is not reported: %v", err)
	}
	if n := complaints(); n != 1 {
		t.Fatalf("after the lost answer: %d complaints, want the one the server committed", n)
	}
	typed, err := testbrowser.Run(ctx, chromedp.Evaluate[string](`document.getElementById('complaint-content').value`))
	if err != nil || typed != "洗手间太远" {
		t.Fatalf("what was typed: %q %v", typed, err)
	}
	if err := testbrowser.Do(ctx, chromedp.Click(chromedp.ID("complaint-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll('[data-complaint]')].some(c => c.textContent.includes('洗手间太远'))`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the resubmitted complaint: %v", err)
	}
	if n, p := complaints(), posts.Load(); n != 1 || p != 2 {
		t.Fatalf("after resubmitting: %d complaints from %d posts, want 1 from 2", n, p)
	}
	if n := f.count("SELECT count(*) FROM idempotency_key WHERE principal = ? AND status = 201", fmt.Sprintf("patient:%d", courses[1].PatientID)); n != 1 {
		t.Errorf("%d recorded answers, want 1", n)
	}
	// A second complaint of the same words, sent on purpose after an answer, is a new one.
	if err := testbrowser.Do(ctx, chromedp.SendKeys(chromedp.ID("complaint-content"), "洗手间太远"), chromedp.Click(chromedp.ID("complaint-submit"))); err != nil {
		t.Fatal(err)
	}
	if _, err := testbrowser.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll('[data-complaint]')].filter(c => c.textContent.includes('洗手间太远')).length === 2`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the second complaint: %v", err)
	}
	if n := complaints(); n != 2 {
		t.Fatalf("a complaint sent again on purpose: %d complaints, want 2", n)
	}
	for _, m := range testbrowser.ConsoleErrors(console()) {
		if !strings.Contains(m.Text, "ERR_CONNECTION_RESET") && !strings.Contains(m.Text, "Failed to load resource") {
			t.Errorf("console: %s", m)
		}
	}
}
