// Package pdfprint owns turning a print-styled HTML page into a PDF through
// headless Chromium's print-to-PDF (chromedp). Chromium is the browser the
// project already drives for its dashboard tests and screenshots, so a
// report prints exactly as its page is laid out: CSS paged media for A4
// landscape, table headers repeated on every page, and Chromium's own page
// header and footer templates for 第 N 页 / 共 M 页.
package pdfprint

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
)

// ErrNoChromium says that no browser is installed to print with.
var ErrNoChromium = errors.New("未找到 Chromium，无法生成 PDF：请安装 chromium（Debian: apt-get install chromium fonts-noto-cjk）或以 ZHILIAO_CHROME 指定浏览器路径 (no Chromium to print PDF with)")

// Browser finds the browser: ZHILIAO_CHROME, else chromium, chromium-browser
// or google-chrome on PATH.
func Browser() (string, error) {
	if p := os.Getenv("ZHILIAO_CHROME"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Options are the printed page's header and footer: HTML templates in
// which Chromium fills the classes pageNumber, totalPages, date and title.
type Options struct {
	Header, Footer string
	// Timeout bounds the whole print (0: two minutes).
	Timeout time.Duration
}

// Print renders html in a fresh headless Chromium and prints it to a PDF,
// A4 landscape unless the page's CSS names another size.
func Print(ctx context.Context, html []byte, opt Options) ([]byte, error) {
	browser, err := Browser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "zhiliao-print-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, html, 0o600); err != nil {
		return nil, err
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true))
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+page)); err != nil {
		return nil, err
	}
	opts := []chromedp.PDFOption{chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFLandscape(), chromedp.PDFPreferCSSPageSize(),
		chromedp.PDFPrintBackground(), chromedp.PDFMargins(0.55, 0.4, 0.55, 0.4)}
	if opt.Header != "" {
		opts = append(opts, chromedp.PDFHeaderTemplate(opt.Header))
	}
	if opt.Footer != "" {
		opts = append(opts, chromedp.PDFFooterTemplate(opt.Footer))
	}
	return chromedp.Run(bctx, chromedp.PrintToPDF(opts...))
}
