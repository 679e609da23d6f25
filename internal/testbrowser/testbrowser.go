// Package testbrowser gives tests a headless Chromium tab (chromedp) with
// its console collected, steps bounded in time, and a screenshot of the
// page when a test fails. Locally a missing browser skips; in CI it fails.
package testbrowser

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Chromium finds the browser: ZHILIAO_TEST_CHROME, else chromium on PATH.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ZHILIAO_TEST_CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium in CI: .ci/run installs the Debian package chromium")
	}
	t.Skip("no Chromium: `apt-get install chromium fonts-noto-cjk` or set ZHILIAO_TEST_CHROME")
	return ""
}

// Tab starts a headless Chromium and returns a tab, the console messages
// it has logged so far, and where downloads land.
func Tab(t testing.TB) (context.Context, func() []chromedp.ConsoleMessage, string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(Chromium(t)), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1366, 900), chromedp.UserDataDir(t.TempDir())}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var msgs []chromedp.ConsoleMessage
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}()
	dir := t.TempDir()
	allow := true
	if err := Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: &allow})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	return ctx, func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return append([]chromedp.ConsoleMessage(nil), msgs...)
	}, dir
}

// StepTimeout bounds one browser step: a selector that never matches fails
// the test instead of hanging it.
const StepTimeout = 45 * time.Second

// Do runs steps within StepTimeout.
func Do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	c, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	return chromedp.Do(c, steps...)
}

// Run runs one action within StepTimeout and returns its value.
func Run[T any](ctx context.Context, a chromedp.Action[T]) (T, error) {
	c, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	return chromedp.Run(c, a)
}

// RunResponse runs steps within StepTimeout and returns the response of
// the navigation they cause.
func RunResponse(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) (*network.Response, error) {
	c, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	return chromedp.RunResponse(c, steps...)
}

// ScreenshotOnFailure saves the page when the test has failed, to
// ZHILIAO_SCREENSHOTS (or the temp dir), and says where.
func ScreenshotOnFailure(t testing.TB, ctx context.Context, name string) {
	if !t.Failed() {
		return
	}
	dir := os.Getenv("ZHILIAO_SCREENSHOTS")
	if dir == "" {
		dir = os.TempDir()
	}
	png, err := Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot of %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, "zhiliao-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err == nil {
		t.Logf("screenshot of the failed page: %s", path)
	}
}

// ConsoleErrors returns the errors and exceptions among msgs.
func ConsoleErrors(msgs []chromedp.ConsoleMessage) []chromedp.ConsoleMessage {
	var out []chromedp.ConsoleMessage
	for _, m := range msgs {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			out = append(out, m)
		}
	}
	return out
}
