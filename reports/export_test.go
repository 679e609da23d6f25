package reports_test

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
	"github.com/zhiliao/zhiliao/warehouse"
)

var update = flag.Bool("update", false, "rewrite the golden dumps in testdata/")

func TestMain(m *testing.M) {
	code := m.Run()
	testmarts.Cleanup()
	os.Exit(code)
}

// pilotMarts is the pilot with its marts built, and its departments.
func pilotMarts(t *testing.T) (*etl.Runner, []int64) {
	t.Helper()
	r := testmarts.Pilot(t).Runner
	dims, err := r.Dimensions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var depts []int64
	for _, d := range dims.Departments {
		depts = append(depts, d.ID)
	}
	return r, depts
}

// dump renders a workbook as text, one line per cell: sheet, cell, type,
// value and number format; then each sheet's frozen pane and charts. Lines
// that carry the time of generation are masked.
func dump(t *testing.T, data []byte) string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for _, sheet := range f.GetSheetList() {
		panes, _ := f.GetPanes(sheet)
		fmt.Fprintf(&b, "== %s (frozen=%v split=%d)\n", sheet, panes.Freeze, panes.YSplit)
		rows, err := f.Rows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		masked := false
		for r := 1; rows.Next(); r++ {
			cols, _ := rows.Columns(excelize.Options{RawCellValue: true})
			for c, v := range cols {
				cell, _ := excelize.CoordinatesToCellName(c+1, r)
				if v == "" {
					continue
				}
				typ, _ := f.GetCellType(sheet, cell)
				style, _ := f.GetCellStyle(sheet, cell)
				numFmt := ""
				if st, err := f.GetStyle(style); err == nil && st.CustomNumFmt != nil {
					numFmt = *st.CustomNumFmt
				}
				if masked {
					v, masked = "<masked>", false
				}
				if v == "生成时间" || strings.HasPrefix(v, "数据新鲜度") {
					masked = true
				}
				fmt.Fprintf(&b, "%s!%s\t%s\t%s\t%s\n", sheet, cell, cellTypes[typ], v, numFmt)
			}
		}
		rows.Close()
		for _, w := range []string{"A", "B", "C", "D", "E"} {
			if width, err := f.GetColWidth(sheet, w); err == nil {
				fmt.Fprintf(&b, "%s!width %s=%.1f\n", sheet, w, width)
			}
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		if strings.HasPrefix(zf.Name, "xl/charts/chart") {
			rc, _ := zf.Open()
			x, _ := io.ReadAll(rc)
			rc.Close()
			kind := "bar"
			if bytes.Contains(x, []byte("<lineChart>")) {
				kind = "line"
			}
			fmt.Fprintf(&b, "chart %s %s series=%d\n", zf.Name, kind, bytes.Count(x, []byte("<ser>")))
		}
	}
	return b.String()
}

var cellTypes = map[excelize.CellType]string{excelize.CellTypeUnset: "number", excelize.CellTypeBool: "bool",
	excelize.CellTypeDate: "date", excelize.CellTypeError: "error", excelize.CellTypeFormula: "FORMULA",
	excelize.CellTypeInlineString: "text", excelize.CellTypeNumber: "number", excelize.CellTypeSharedString: "text"}

// TestExportGolden: every report of the catalogue exported for the pilot's
// three months, compared as a text dump (sheet, cell, type, value, format)
// with testdata/<report>.golden; `go test ./reports -run Golden -update`
// rewrites them.
func TestExportGolden(t *testing.T) {
	src, depts := pilotMarts(t)
	for _, rep := range reports.Reports {
		t.Run(rep.ID, func(t *testing.T) {
			var buf bytes.Buffer
			var progress []int64
			res, err := reports.Export(context.Background(), src, reports.DefaultRules(), rep,
				reports.Params{From: "2026-08-24", To: "2026-11-22", Depts: depts, DeptNames: []string{"激光治疗中心"}, By: "测试", SampleRows: 20,
					Now: time.Date(2026, 11, 23, 9, 30, 0, 0, model.Local)},
				&buf, func(n int64, done, sheets int) {
					if sheets != len(rep.Sheets) || done > sheets {
						t.Errorf("progress %d of %d sheets", done, sheets)
					}
					progress = append(progress, n)
				})
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows == 0 || res.Sheets != len(rep.Sheets) || len(progress) == 0 || progress[len(progress)-1] != res.Rows {
				t.Errorf("result %+v, progress %v", res, progress)
			}
			got := dump(t, buf.Bytes())
			path := filepath.Join("testdata", rep.ID+".golden")
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n%s", rep.ID, path, firstDiff(string(want), got))
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d\nwant %q\ngot  %q", i+1, a, b)
		}
	}
	return ""
}

// TestExportEmpty: a range with no data is an error, never a blank workbook.
func TestExportEmpty(t *testing.T) {
	src, depts := pilotMarts(t)
	var buf bytes.Buffer
	_, err := reports.Export(context.Background(), src, reports.DefaultRules(), reports.ReportByID("workload"),
		reports.Params{From: "2020-01-01", To: "2020-01-31", Depts: depts}, &buf, nil)
	if err == nil || buf.Len() != 0 {
		t.Errorf("empty range: %v, %d bytes", err, buf.Len())
	}
}

// TestXLSXFormulaInjection: text that a spreadsheet would run as a formula
// is a string cell with the text format, never a formula.
func TestXLSXFormulaInjection(t *testing.T) {
	evil := []string{"=HYPERLINK(\"http://x\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1", "=1+1"}
	w, err := reports.NewWorkbook()
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.AddSheet("注入", []reports.SheetColumn{{Header: "=标题", Format: reports.Text, Width: 20}, {Header: "数", Format: reports.Integer, Width: 8}},
		func(yield func([]any) bool) error {
			for i, s := range evil {
				if !yield([]any{s, int64(-i)}) {
					break
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range evil {
		cell := fmt.Sprintf("A%d", i+2)
		formula, _ := f.GetCellFormula("注入", cell)
		typ, _ := f.GetCellType("注入", cell)
		v, _ := f.GetCellValue("注入", cell)
		style, _ := f.GetCellStyle("注入", cell)
		st, _ := f.GetStyle(style)
		if formula != "" || typ != excelize.CellTypeInlineString || v != s || st.CustomNumFmt == nil || *st.CustomNumFmt != "@" {
			t.Errorf("%q: formula %q, type %v, value %q, style %+v", s, formula, typ, v, st)
		}
		n, _ := f.GetCellValue("注入", fmt.Sprintf("B%d", i+2), excelize.Options{RawCellValue: true})
		if n != fmt.Sprint(-i) {
			t.Errorf("number %q", n)
		}
	}
	if h, _ := f.GetCellFormula("注入", "A1"); h != "" {
		t.Errorf("header is a formula %q", h)
	}
}

// TestLibreOfficeOpens: a real spreadsheet application opens an exported
// workbook and converts it without error.
func TestLibreOfficeOpens(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("no LibreOffice in CI: .ci/run installs libreoffice-calc")
		}
		t.Skip("no LibreOffice: `apt-get install libreoffice-calc`")
	}
	src, depts := pilotMarts(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "dept-monthly.xlsx")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reports.Export(context.Background(), src, reports.DefaultRules(), reports.ReportByID("dept-monthly"),
		reports.Params{From: "2026-08-24", To: "2026-11-22", Depts: depts, By: "测试"}, f, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.Command(soffice, "--headless", "--norestore", "-env:UserInstallation=file://"+filepath.Join(dir, "profile"),
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1", "--outdir", dir, in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	csvs, _ := filepath.Glob(filepath.Join(dir, "dept-monthly*.csv"))
	if len(csvs) < 6 {
		t.Fatalf("LibreOffice wrote %v\n%s", csvs, out)
	}
	for _, c := range csvs {
		b, _ := os.ReadFile(c)
		if strings.Contains(c, "汇总") && !strings.Contains(string(b), "激光治疗中心") {
			t.Errorf("%s: %s", c, b)
		}
		if strings.Contains(c, "说明") && !strings.Contains(string(b), reports.DefaultRules().Version) {
			t.Errorf("%s has no rule version: %s", c, b)
		}
	}
}

// TestRatesAreSubsets: every rate of the catalogue is a numerator over a
// denominator of one cohort, so on every row, by day and over the whole
// period, the numerator never exceeds the denominator (DESIGN §D). A rate
// whose parts count different days (no-shows on the planned day over
// bookings on the booking day) fails here.
func TestRatesAreSubsets(t *testing.T) {
	r := testmarts.Pilot(t).Runner
	checked := 0
	for _, tb := range reports.Tables {
		for _, c := range tb.Columns {
			if c.Format != reports.Percent || c.Den == "" {
				continue
			}
			m := etl.MartByName(tb.Mart)
			for _, grain := range []string{"day", "all"} {
				rr, err := r.Query(context.Background(), m, etl.Query{From: "2026-08-01", To: "2026-12-31", Grain: grain,
					GroupBy: tb.GroupBy, Measures: []string{c.Num, c.Den}})
				if err != nil {
					t.Fatal(err)
				}
				rows, err := warehouse.ReadAll(rr)
				if err != nil {
					t.Fatal(err)
				}
				for _, row := range rows {
					num, den := row[len(row)-2].(int64), row[len(row)-1].(int64)
					if num > den {
						t.Errorf("%s %s by %s: %s %d > %s %d in %v", tb.ID, c.Header, grain, c.Num, num, c.Den, den, row)
						break
					}
				}
			}
			checked++
		}
	}
	if checked < 5 {
		t.Errorf("only %d rates checked", checked)
	}
}

// TestEveryReportEveryMonth: on the demo's pilot, every catalogued report
// exports for every month the pilot covers, with data in it; satisfaction
// has surveys every month (诊后评价) and follow-ups once courses end.
func TestEveryReportEveryMonth(t *testing.T) {
	r, depts := pilotMarts(t)
	months := [][2]string{{"2026-08-01", "2026-08-31"}, {"2026-09-01", "2026-09-30"}, {"2026-10-01", "2026-10-31"}, {"2026-11-01", "2026-11-30"}}
	for _, rep := range reports.Reports {
		for _, m := range months {
			res, err := reports.Export(context.Background(), r, reports.DefaultRules(), rep, reports.Params{From: m[0], To: m[1], Depts: depts}, io.Discard, nil)
			if err != nil || res.Rows == 0 {
				t.Errorf("%s for %s: %d rows, %v", rep.ID, m[0][:7], res.Rows, err)
			}
		}
	}
	for i, m := range months {
		rr, err := r.Query(context.Background(), etl.MartByName("satisfaction"), etl.Query{From: m[0], To: m[1], Grain: "all",
			Measures: []string{"surveys_sent", "followups_due"}})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := warehouse.ReadAll(rr)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%v %v", rows, err)
		}
		if rows[0][0].(int64) == 0 || (i > 0 && rows[0][1].(int64) == 0) {
			t.Errorf("%s: %d surveys sent, %d follow-ups due", m[0][:7], rows[0][0], rows[0][1])
		}
	}
}
