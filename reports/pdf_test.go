package reports_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/pdfprint"
	"github.com/zhiliao/zhiliao/reports"
)

// TestExportPDF prints reports to PDF through headless Chromium from the
// same sheets as the workbook and reads them back with poppler: A4
// landscape pages, the title block and 分子/分母 with figures on
// emr-0601's first page, 第 1 页 / 共 N 页 in the footer, a 合计 row, and
// the 说明 notes.
func TestExportPDF(t *testing.T) {
	if _, err := pdfprint.Browser(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no Chromium in CI: .ci/run installs chromium")
		}
		t.Skip("no Chromium: `apt-get install chromium fonts-noto-cjk` or set ZHILIAO_CHROME")
	}
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no poppler-utils in CI")
		}
		t.Skip("no pdftotext: `apt-get install poppler-utils`")
	}
	src, depts := pilotMarts(t)
	dir := t.TempDir()
	for _, id := range []string{"emr-0601", "dept-monthly"} {
		var buf bytes.Buffer
		res, err := reports.ExportPDF(context.Background(), src, reports.DefaultRules(), reports.ReportByID(id),
			reports.Params{From: "2026-08-24", To: "2026-11-22", Depts: depts, DeptNames: []string{"激光治疗中心"}, By: "测试", Now: printDay}, &buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) || res.Rows == 0 {
			t.Fatalf("%s: not a PDF (%d bytes, %d rows)", id, buf.Len(), res.Rows)
		}
		path := filepath.Join(dir, id+".pdf")
		os.WriteFile(path, buf.Bytes(), 0o644)
		info, _ := exec.Command("pdfinfo", path).Output()
		if !regexp.MustCompile(`Page size:\s+841\.\d+ x 59[45]\.\d+ pts`).Match(info) {
			t.Errorf("%s is not A4 landscape:\n%s", id, info)
		}
		pages, _ := strconv.Atoi(string(regexp.MustCompile(`Pages:\s+(\d+)`).FindSubmatch(info)[1]))
		first, _ := exec.Command(pdftotext, "-f", "1", "-l", "1", "-layout", path, "-").Output()
		all, _ := exec.Command(pdftotext, "-layout", path, "-").Output()
		txt := string(first)
		footer := regexp.MustCompile(`第\s*1\s*页\s*/\s*共\s*` + strconv.Itoa(pages) + `\s*页`)
		if !footer.MatchString(txt) || !strings.Contains(txt, "示例省第一人民医院") || !strings.Contains(txt, "报表日期：2026-11-23") ||
			!strings.Contains(txt, "制表：") {
			t.Errorf("%s page 1 lacks the title block or the page header/footer:\n%s", id, txt)
		}
		if id == "emr-0601" && (!strings.Contains(txt, "分子") || !regexp.MustCompile(`06\.01\.3 .* \d+ +\d+`).MatchString(txt)) {
			t.Errorf("emr-0601 page 1 lacks 分子/分母 with figures:\n%s", txt)
		}
		if id == "dept-monthly" && (!strings.Contains(string(all), "合计") || !strings.Contains(string(all), "评级规则版本")) {
			t.Errorf("dept-monthly PDF lacks the 合计 row or the 说明 notes")
		}
	}
	// Without Chromium the PDF format answers with a clear error and writes nothing.
	t.Setenv("ZHILIAO_CHROME", filepath.Join(dir, "no-such-browser"))
	t.Setenv("PATH", dir)
	var buf bytes.Buffer
	_, err = reports.ExportPDF(context.Background(), src, reports.DefaultRules(), reports.ReportByID("workload"),
		reports.Params{From: "2026-08-24", To: "2026-11-22", Depts: depts, By: "测试"}, &buf, nil)
	if model.ErrorCode(err) != model.EUNAVAILABLE || !strings.Contains(model.ErrorMessage(err), "Chromium") || buf.Len() != 0 {
		t.Errorf("without Chromium: %v, %d bytes", err, buf.Len())
	}
}
