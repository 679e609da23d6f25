package reports_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/reports"
)

// wideRows yields n rows of 20 columns, half text (names, codes, notes)
// and half numbers (counts, money, rates), the shape of a large export.
func wideRows(n int) ([]reports.SheetColumn, reports.Rows) {
	var cols []reports.SheetColumn
	for i := 0; i < 10; i++ {
		cols = append(cols, reports.SheetColumn{Header: fmt.Sprintf("文本%02d", i), Format: reports.Text, Width: 14})
	}
	for i := 0; i < 10; i++ {
		f := []reports.Format{reports.Integer, reports.Yuan, reports.Percent, reports.Decimal}[i%4]
		cols = append(cols, reports.SheetColumn{Header: fmt.Sprintf("数值%02d", i), Format: f, Width: 12})
	}
	names := []string{"康复医学科", "理疗科", "针灸科", "激光治疗中心", "血液净化中心"}
	return cols, func(yield func([]any) bool) error {
		row := make([]any, 20)
		for r := 0; r < n; r++ {
			for i := 0; i < 10; i++ {
				switch i % 3 {
				case 0:
					row[i] = names[(r+i)%len(names)]
				case 1:
					row[i] = "XM" + strconv.Itoa(r*10+i)
				default:
					row[i] = "备注：第" + strconv.Itoa(r) + "行"
				}
			}
			for i := 0; i < 10; i++ {
				if i%2 == 0 {
					row[10+i] = int64(r*7 + i)
				} else {
					row[10+i] = float64(r%1000) / 7
				}
			}
			if !yield(row) {
				break
			}
		}
		return nil
	}
}

// TestXLSXBenchHelper writes one workbook when run by BenchmarkXLSX in a
// process of its own (so its peak memory is its own); otherwise it skips.
func TestXLSXBenchHelper(t *testing.T) {
	variant := os.Getenv("ZHILIAO_XLSX_HELPER")
	if variant == "" {
		t.Skip("run by BenchmarkXLSX")
	}
	n, _ := strconv.Atoi(os.Getenv("ZHILIAO_XLSX_ROWS"))
	out := os.Getenv("ZHILIAO_XLSX_OUT")
	cols, rows := wideRows(n)
	start := time.Now()
	switch variant {
	case "stream":
		w, err := reports.NewWorkbook()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.AddSheet("数据", cols, rows); err != nil {
			t.Fatal(err)
		}
		f, _ := os.Create(out)
		if _, err := w.WriteTo(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		w.Close()
	case "plain":
		// excelize's in-memory API: the same cells, values and number formats.
		f := excelize.NewFile()
		styles := map[reports.Format]int{}
		for _, c := range cols {
			if _, ok := styles[c.Format]; !ok {
				code := map[reports.Format]string{reports.Text: "@", reports.Integer: "#,##0", reports.Yuan: `"¥"#,##0.00`,
					reports.Percent: "0.0%", reports.Decimal: "0.00"}[c.Format]
				styles[c.Format], _ = f.NewStyle(&excelize.Style{CustomNumFmt: &code})
			}
		}
		head := make([]any, len(cols))
		for i, c := range cols {
			head[i] = c.Header
		}
		f.SetSheetRow("Sheet1", "A1", &head)
		r := 2
		rows(func(row []any) bool {
			cell, _ := excelize.CoordinatesToCellName(1, r)
			f.SetSheetRow("Sheet1", cell, &row)
			r++
			return true
		})
		for i, c := range cols {
			col, _ := excelize.ColumnNumberToName(i + 1)
			f.SetColStyle("Sheet1", col, styles[c.Format])
		}
		if err := f.SaveAs(out); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	fmt.Printf("elapsed_ns=%d\n", time.Since(start).Nanoseconds())
}

// BenchmarkXLSX writes the same rows × 20 columns (half text) with the
// StreamWriter encoder and with excelize's in-memory API, each in its own
// process, and reports cells per second and peak resident memory of each.
//
//	ZHILIAO_XLSX_ROWS=1000000 go test ./reports -run '^$' -bench XLSX -benchtime 1x
func BenchmarkXLSX(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("ZHILIAO_XLSX_ROWS")); err == nil {
		n = v
	}
	dir := b.TempDir()
	measure := func(variant string) (time.Duration, int64, int64) {
		out := filepath.Join(dir, variant+".xlsx")
		cmd := exec.Command(os.Args[0], "-test.run=^TestXLSXBenchHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ZHILIAO_XLSX_HELPER="+variant, "ZHILIAO_XLSX_ROWS="+strconv.Itoa(n), "ZHILIAO_XLSX_OUT="+out)
		outb, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("%s: %v\n%s", variant, err, outb)
		}
		var ns int64
		for _, line := range strings.Split(string(outb), "\n") {
			if v, ok := strings.CutPrefix(line, "elapsed_ns="); ok {
				ns, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		st, _ := os.Stat(out)
		return time.Duration(ns), rss, st.Size()
	}
	b.ResetTimer()
	st, stRSS, stSize := measure("stream")
	pl, plRSS, _ := measure("plain")
	b.StopTimer()
	cells := float64(n) * 20
	b.ReportMetric(cells/st.Seconds(), "stream-cells/s")
	b.ReportMetric(float64(stRSS)/1024, "stream-peak-MiB")
	b.ReportMetric(cells/pl.Seconds(), "plain-cells/s")
	b.ReportMetric(float64(plRSS)/1024, "plain-peak-MiB")
	b.ReportMetric(pl.Seconds()/st.Seconds(), "speedup")
	b.ReportMetric(float64(plRSS)/float64(stRSS), "memory-ratio")
	b.ReportMetric(float64(stSize)/(1<<20), "file-MiB")
}

// TestSheetSplit: past 1,048,575 data rows a sheet continues on the next,
// each with its header, none lost.
func TestSheetSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1,048,580 rows")
	}
	w, err := reports.NewWorkbook()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	total := reports.MaxSheetRows + 5
	n, err := w.AddSheet("明细", []reports.SheetColumn{{Header: "序号", Format: reports.Integer, Width: 10}}, func(yield func([]any) bool) error {
		row := make([]any, 1)
		for i := 1; i <= total; i++ {
			row[0] = int64(i)
			if !yield(row) {
				break
			}
		}
		return nil
	})
	if err != nil || n != int64(total) {
		t.Fatal(n, err)
	}
	path := filepath.Join(t.TempDir(), "split.xlsx")
	fh, _ := os.Create(path)
	if _, err := w.WriteTo(fh); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if sheets := f.GetSheetList(); len(sheets) != 2 || sheets[1] != "明细 (2)" {
		t.Fatalf("sheets %v", sheets)
	}
	count := func(sheet string) (int, string, string) {
		rows, err := f.Rows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var first, last string
		k := 0
		for rows.Next() {
			cols, _ := rows.Columns()
			if k == 0 {
				first = cols[0]
			}
			last = cols[0]
			k++
		}
		return k, first, last
	}
	if k, head, last := count("明细"); k != reports.MaxSheetRows+1 || head != "序号" || last != "1,048,575" {
		t.Errorf("first sheet: %d rows, header %q, last %q", k, head, last)
	}
	if k, head, last := count("明细 (2)"); k != 6 || head != "序号" || last != "1,048,580" {
		t.Errorf("second sheet: %d rows, header %q, last %q", k, head, last)
	}
}
