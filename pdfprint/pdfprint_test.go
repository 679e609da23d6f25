package pdfprint

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestPrint prints a small page: a PDF comes back; with no browser to be
// found, the error says what to install.
func TestPrint(t *testing.T) {
	if _, err := Browser(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no Chromium in CI: .ci/run installs chromium")
		}
		t.Skip("no Chromium: `apt-get install chromium fonts-noto-cjk` or set ZHILIAO_CHROME")
	}
	pdf, err := Print(context.Background(), []byte(`<!doctype html><meta charset="utf-8"><h1>治疗记录</h1>`),
		Options{Footer: `<div style="font-size:8px">第 <span class="pageNumber"></span> 页</div>`})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 1000 {
		t.Fatalf("not a PDF: %d bytes", len(pdf))
	}
	dir := t.TempDir()
	t.Setenv("ZHILIAO_CHROME", filepath.Join(dir, "none"))
	t.Setenv("PATH", dir)
	if _, err := Print(context.Background(), []byte("<p>x</p>"), Options{}); !errors.Is(err, ErrNoChromium) {
		t.Fatalf("without a browser: %v", err)
	}
}
