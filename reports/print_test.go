package reports_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
)

var printDay = time.Date(2026, 11, 23, 9, 30, 0, 0, model.Local)

func exportFor(t *testing.T, id, from, to string) []byte {
	t.Helper()
	src, depts := pilotMarts(t)
	var buf bytes.Buffer
	if _, err := reports.Export(context.Background(), src, reports.DefaultRules(), reports.ReportByID(id),
		reports.Params{From: from, To: to, Depts: depts, DeptNames: []string{"激光治疗中心"}, By: "测试", Now: printDay}, &buf, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zipPart reads one part of an xlsx.
func zipPart(t *testing.T, data []byte, name string) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, _ := f.Open()
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return string(b)
		}
	}
	return ""
}

// TestWorkbooksPrint checks the sheet XML of every catalogued report: each
// data sheet is A4 landscape fitted one page wide, repeats its header row
// on every page, has a page header with the hospital and report and a
// footer with 第 &P 页 / 共 &N 页, opens with the title block (报表名称, 单位,
// 统计期间, 报表日期, 制表, 审核); tables that add up end with a 合计 row;
// and every chart is referenced by its sheet, with every series its title
// names (the daily chart: 治疗人次 and 净收入).
func TestWorkbooksPrint(t *testing.T) {
	drawingRef := regexp.MustCompile(`<drawing [^>]*:id="rId\d+"`) // the stream writer names the namespace prefix "relationships"
	titles := regexp.MustCompile(`<definedName localSheetId="(\d+)" name="_xlnm.Print_Titles">([^<]+)</definedName>`)
	for _, rep := range reports.Reports {
		t.Run(rep.ID, func(t *testing.T) {
			data := exportFor(t, rep.ID, "2026-08-24", "2026-11-22")
			f, err := excelize.OpenReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			wb := zipPart(t, data, "xl/workbook.xml")
			repeated := map[int]string{}
			for _, m := range titles.FindAllStringSubmatch(wb, -1) {
				i, _ := strconv.Atoi(m[1])
				repeated[i] = strings.ReplaceAll(m[2], "&#39;", "'")
			}
			for i, sheet := range f.GetSheetList() {
				xml := zipPart(t, data, fmt.Sprintf("xl/worksheets/sheet%d.xml", i+1))
				for _, want := range []string{`paperSize="9"`, `orientation="landscape"`, `fitToWidth="1"`, `fitToHeight="0"`, `<pageSetUpPr fitToPage="true"`,
					"第 &amp;P 页 / 共 &amp;N 页", "制表时间：2026-11-23 09:30"} {
					if !strings.Contains(xml, want) {
						t.Errorf("%s: sheet XML lacks %s", sheet, want)
					}
				}
				if sheet == "说明" {
					continue
				}
				if want := fmt.Sprintf("'%s'!$4:$4", sheet); repeated[i] != want {
					t.Errorf("%s: print titles %q, want %q", sheet, repeated[i], want)
				}
				a1, _ := f.GetCellValue(sheet, "A1")
				a2, _ := f.GetCellValue(sheet, "A2")
				a3, _ := f.GetCellValue(sheet, "A3")
				if a1 != rep.Title+" · "+sheet || !strings.Contains(a2, "单位：示例省第一人民医院 · 激光治疗中心") ||
					!strings.Contains(a2, "统计期间：2026-08-24 至 2026-11-22") || !strings.Contains(a2, "报表日期：2026-11-23") ||
					!strings.Contains(a3, "制表：") || !strings.Contains(a3, "审核：") {
					t.Errorf("%s: title block %q / %q / %q", sheet, a1, a2, a3)
				}
			}
			for _, sh := range rep.Sheets {
				if sh.Table == "" || !reports.TableByID(sh.Table).AddsUp() {
					continue
				}
				rows, _ := f.GetRows(sh.Name)
				if last := rows[len(rows)-1]; len(rows) > 6 && last[0] != "合计" {
					t.Errorf("%s: last row %v, want 合计", sh.Name, last)
				}
			}
			for i, sheet := range f.GetSheetList() {
				rels := zipPart(t, data, fmt.Sprintf("xl/worksheets/_rels/sheet%d.xml.rels", i+1))
				xml := zipPart(t, data, fmt.Sprintf("xl/worksheets/sheet%d.xml", i+1))
				if strings.Contains(rels, "drawing") != drawingRef.MatchString(xml) {
					t.Errorf("%s: a drawing part without the sheet's reference to it", sheet)
				}
			}
			for _, sh := range rep.Sheets {
				if sh.Chart == nil {
					continue
				}
				i, _ := f.GetSheetIndex(sh.Name)
				if xml := zipPart(t, data, fmt.Sprintf("xl/worksheets/sheet%d.xml", i+1)); !drawingRef.MatchString(xml) {
					t.Errorf("%s: the chart %s is not referenced by its sheet", sh.Name, sh.Chart.Title)
				}
			}
		})
	}
	// The daily chart shows every series its title names.
	data := exportFor(t, "dept-monthly", "2026-08-24", "2026-11-22")
	found := false
	for n := 1; n <= 4; n++ {
		x := zipPart(t, data, fmt.Sprintf("xl/charts/chart%d.xml", n))
		if !strings.Contains(x, "每日治疗人次与净收入") {
			continue
		}
		found = true
		if strings.Count(x, "<ser>") != 2 || !strings.Contains(x, "<lineChart>") || !strings.Contains(x, "<barChart>") {
			t.Errorf("daily chart: %d series, line %v, bar %v", strings.Count(x, "<ser>"), strings.Contains(x, "<lineChart>"), strings.Contains(x, "<barChart>"))
		}
		for _, col := range []string{"$B$4", "$E$4"} { // the series names are the 治疗人次 and 净收入 headers
			if !strings.Contains(x, col) {
				t.Errorf("daily chart names no series from %s", col)
			}
		}
	}
	if !found {
		t.Error("no chart titled 每日治疗人次与净收入")
	}
	// Every chart's value axes start at zero, and the daily chart's dates
	// read as dates, not serial numbers (read back from the chart XML).
	valAx := regexp.MustCompile(`(?s)<valAx>.*?</valAx>`)
	catAx := regexp.MustCompile(`(?s)<catAx>.*?</catAx>`)
	for n := 1; n <= 4; n++ {
		x := zipPart(t, data, fmt.Sprintf("xl/charts/chart%d.xml", n))
		if x == "" {
			continue
		}
		for _, ax := range valAx.FindAllString(x, -1) {
			if !strings.Contains(ax, `<min val="0"`) {
				t.Errorf("chart %d: a value axis without a minimum of zero: %.200s", n, ax)
			}
		}
		if strings.Contains(x, "每日治疗人次与净收入") {
			for _, ax := range catAx.FindAllString(x, -1) {
				if strings.Contains(ax, `<delete val="1"`) {
					continue // the secondary series' hidden category axis
				}
				if !strings.Contains(ax, `formatCode="yyyy-mm-dd"`) || strings.Contains(ax, `sourceLinked="1"`) || strings.Contains(ax, `sourceLinked="true"`) {
					t.Errorf("daily chart: a category axis without the date format: %.300s", ax)
				}
			}
		}
	}
}

// TestPrintedPages opens workbooks in LibreOffice, prints them to PDF and
// reads the pages back: emr-0601's first page holds 分子 and 分母 with
// their figures, satisfaction over one quarter fits in 3 pages, and
// dept-monthly (18 pages before print setup) in at most 10.
func TestPrintedPages(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no LibreOffice in CI: .ci/run installs libreoffice-calc")
		}
		t.Skip("no LibreOffice: `apt-get install libreoffice-calc poppler-utils`")
	}
	pdfinfo, err1 := exec.LookPath("pdfinfo")
	pdftotext, err2 := exec.LookPath("pdftotext")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no poppler-utils in CI: .ci/run installs it")
		}
		t.Skip("no pdfinfo/pdftotext: `apt-get install poppler-utils`")
	}
	dir := t.TempDir()
	cases := []struct {
		id, from, to string
		maxPages     int
	}{
		{"emr-0601", "2026-08-24", "2026-11-22", 30},
		{"satisfaction", "2026-09-01", "2026-11-30", 3},
		{"dept-monthly", "2026-08-24", "2026-11-22", 10},
	}
	var paths []string
	for _, c := range cases {
		p := filepath.Join(dir, c.id+".xlsx")
		if err := os.WriteFile(p, exportFor(t, c.id, c.from, c.to), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	args := append([]string{"--headless", "--norestore", "-env:UserInstallation=file://" + filepath.Join(dir, "profile"), "--convert-to", "pdf", "--outdir", dir}, paths...)
	if out, err := exec.Command(soffice, args...).CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	for _, c := range cases {
		pdf := filepath.Join(dir, c.id+".pdf")
		info, err := exec.Command(pdfinfo, pdf).Output()
		if err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		m := regexp.MustCompile(`Pages:\s+(\d+)`).FindSubmatch(info)
		pages, _ := strconv.Atoi(string(m[1]))
		if pages == 0 || pages > c.maxPages {
			t.Errorf("%s prints on %d pages, want 1–%d", c.id, pages, c.maxPages)
		}
		first, _ := exec.Command(pdftotext, "-f", "1", "-l", "1", "-layout", pdf, "-").Output()
		footer := regexp.MustCompile(`第\s*1\s*页\s*/\s*共\s*` + strconv.Itoa(pages) + `\s*页`)
		if !footer.Match(first) || !strings.Contains(string(first), "示例省第一人民医院") {
			t.Errorf("%s: page 1 has no header/footer:\n%s", c.id, first)
		}
		if c.id == "emr-0601" {
			txt := string(first)
			if !strings.Contains(txt, "分子") || !strings.Contains(txt, "分母") || !regexp.MustCompile(`06\.01\.3 .* \d+ +\d+`).MatchString(txt) {
				t.Errorf("emr-0601 page 1 lacks 分子/分母 with their figures:\n%s", txt)
			}
		}
	}
}
