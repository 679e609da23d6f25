package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/evidence"
	"github.com/zhiliao/zhiliao/pdfprint"
)

// TestEvidencePack builds the evidence pack of the pilot's quarter and
// checks it as an evaluator would: every file of the manifest is in the zip
// with the sha256 the manifest gives; the four rating workbooks are there
// and open in LibreOffice; with Chromium, their PDFs and the two dashboard
// screenshots are there too (without it, the manifest says what is left out
// and why); the rules file is there with its version.
func TestEvidencePack(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{
		{"gen", "--preset", "pilot", "--data", data, "--log-level", "error"},
		{"relay", "--once", "--data", data, "--log-level", "error"},
		{"etl", "run", "--full", "--data", data, "--log-level", "error"},
		{"user", "add", "--username", "zhikong", "--password", "Quality-2026", "--role", "quality_office", "--data", data},
	} {
		if code, out, stderr := run(t, args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, stderr)
		}
	}
	out := filepath.Join(t.TempDir(), "pack.zip")
	code, stdout, stderr := run(t, "export", "evidence-pack", "--from", "2026-08-24", "--to", "2026-11-22", "--out", out, "--data", data, "--log-level", "error")
	if code != 0 {
		t.Fatalf("evidence-pack: %d %s %s", code, stdout, stderr)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = b
	}
	var man evidence.Manifest
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if man.From != "2026-08-24" || man.To != "2026-11-22" || man.RulesVersion == "" || len(man.Freshness) == 0 || len(man.Departments) == 0 {
		t.Errorf("manifest head %+v", man)
	}
	listed := map[string]bool{}
	for _, f := range man.Files {
		listed[f.Path] = true
		h := sha256.Sum256(files[f.Path])
		if hex.EncodeToString(h[:]) != f.SHA256 || len(files[f.Path]) != f.Bytes {
			t.Errorf("%s: the zip's file does not match its manifest line", f.Path)
		}
	}
	if len(listed) != len(files)-1 {
		t.Errorf("%d files in the zip, %d in the manifest", len(files), len(listed))
	}
	for _, id := range evidence.Reports {
		if !listed["workbooks/"+id+".xlsx"] {
			t.Errorf("no workbook %s", id)
		}
	}
	if !listed["rules/rules-"+man.RulesVersion+".json"] {
		t.Error("no rules file")
	}
	// 互联互通: the pilot's documents, month by month, with 说明.
	if !listed["workbooks/interop.xlsx"] {
		t.Fatal("no 互联互通 workbook")
	}
	wb, err := excelize.OpenReader(bytes.NewReader(files["workbooks/interop.xlsx"]))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := wb.GetRows("共享文档")
	registered := 0
	for _, r := range rows[1:] {
		if n, err := strconv.Atoi(r[2]); err == nil {
			registered += n
		}
	}
	if len(rows) < 3 || registered == 0 || rows[0][1] != "文档类型" {
		t.Errorf("共享文档 %v", rows)
	}
	if notes, _ := wb.GetRows("说明"); len(notes) < 5 {
		t.Errorf("说明 %v", notes)
	}
	if _, err := pdfprint.Browser(); err == nil {
		for _, want := range []string{"pdf/emr-0601.pdf", "pdf/self-assessment.pdf", "screenshots/quality.png", "screenshots/overview.png"} {
			if !listed[want] {
				t.Errorf("with Chromium, no %s (left out: %+v)", want, man.Omitted)
			}
		}
		if png := files["screenshots/quality.png"]; len(png) < 20000 || !strings.HasPrefix(string(png), "\x89PNG") {
			t.Errorf("quality screenshot: %d bytes", len(png))
		}
	} else if len(man.Omitted) == 0 {
		t.Error("without Chromium the manifest names nothing left out")
	}
	// Every workbook opens in a real spreadsheet application.
	if soffice, err := exec.LookPath("soffice"); err == nil {
		dir := t.TempDir()
		var paths []string
		for _, id := range append(slices.Clone(evidence.Reports), "interop") {
			p := filepath.Join(dir, id+".xlsx")
			os.WriteFile(p, files["workbooks/"+id+".xlsx"], 0o644)
			paths = append(paths, p)
		}
		args := append([]string{"--headless", "--norestore", "-env:UserInstallation=file://" + filepath.Join(dir, "profile"), "--convert-to", "pdf", "--outdir", dir}, paths...)
		if out, err := exec.Command(soffice, args...).CombinedOutput(); err != nil {
			t.Fatalf("soffice: %v %s", err, out)
		}
		for _, id := range append(slices.Clone(evidence.Reports), "interop") {
			if st, err := os.Stat(filepath.Join(dir, id+".pdf")); err != nil || st.Size() == 0 {
				t.Errorf("LibreOffice could not open %s: %v", id, err)
			}
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("no LibreOffice in CI")
	}
}
