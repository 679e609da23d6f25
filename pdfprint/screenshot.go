package pdfprint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Shot is one page captured as a PNG.
type Shot struct {
	Name string
	PNG  []byte
}

// Session is the cookie a capture browses with: a session of the service
// the pages belong to, so they show what that account sees.
type Session struct {
	Cookie, Token string
}

// Screenshots captures pages of the service at base (paths with their
// query, each named for its file) in a fresh headless Chromium at 1440 px,
// signed in with the session's cookie. A page is captured when it says it
// is drawn: ready is a JavaScript condition true once no request is
// pending and every chart is inked.
func Screenshots(ctx context.Context, base string, s Session, pages [][2]string, ready string) ([]Shot, error) {
	browser, err := Browser()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "zhiliao-shots-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1440, 900), chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("disable-dev-shm-usage", true))
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	httpOnly := true
	if err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: s.Cookie, Value: s.Token, URL: base + "/", HTTPOnly: &httpOnly})
		return err
	})); err != nil {
		return nil, err
	}
	var shots []Shot
	for _, pg := range pages {
		path, file := pg[0], pg[1]
		if err := chromedp.Do(tab, chromedp.EmulateViewport(1440, 900), chromedp.Navigate(base+path)); err != nil {
			return shots, err
		}
		if _, err := chromedp.Run(tab, chromedp.Poll[bool](ready, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
			return shots, fmt.Errorf("%s did not finish drawing: %w", file, err)
		}
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			return shots, err
		}
		shots = append(shots, Shot{Name: file, PNG: png})
	}
	return shots, nil
}
