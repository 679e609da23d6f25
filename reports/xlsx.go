package reports

import (
	"archive/zip"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
)

// MaxSheetRows is how many data rows one sheet takes: a spreadsheet holds
// 1,048,576 rows and the first is the header.
const MaxSheetRows = 1_048_575

// numFmts are the spreadsheet number formats of the Formats, so a cell
// reads in Excel as it does on screen.
var numFmts = map[Format]string{
	Integer: "#,##0",
	Yuan:    `"¥"#,##0.00`,
	Percent: "0.0%",
	Decimal: "0.00",
	Date:    "yyyy-mm-dd",
	Text:    "@",
	Time:    "yyyy-mm-dd hh:mm:ss",
	ID:      "0",
}

// Formats of detail columns: a timestamp (shown in Beijing time) and an
// identifier (no thousands separator).
const (
	Time Format = "time"
	ID   Format = "id"
)

// Workbook writes a report workbook with excelize's StreamWriter, one sheet
// after another, so memory stays flat however many rows a sheet has.
type Workbook struct {
	f      *excelize.File
	styles map[Format]int
	totals map[Format]int // bold, ruled above: the 合计 row
	header int
	title  int
	line   int // the title block's lines
	wrap   int // text that wraps (the notes)
	sheets int
	// Print, when set, gives every data sheet a title block, A4 landscape
	// page setup one page wide, the header row repeated on every page, and
	// a page header and footer.
	Print *Print
	// Progress, when set, is told the rows written so far.
	Progress func(rows int64)
	rows     int64
}

// NewWorkbook starts an empty workbook.
func NewWorkbook() (*Workbook, error) {
	w := &Workbook{f: excelize.NewFile(), styles: map[Format]int{}, totals: map[Format]int{}}
	for f, code := range numFmts {
		code := code
		id, err := w.f.NewStyle(&excelize.Style{CustomNumFmt: &code})
		if err != nil {
			return nil, err
		}
		w.styles[f] = id
		if w.totals[f], err = w.f.NewStyle(&excelize.Style{CustomNumFmt: &code, Font: &excelize.Font{Bold: true},
			Border: []excelize.Border{{Type: "top", Color: "333333", Style: 1}}}); err != nil {
			return nil, err
		}
	}
	var err error
	if w.header, err = w.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E8F1FA"}},
		Alignment: &excelize.Alignment{Vertical: "center", WrapText: true},
		Border:    []excelize.Border{{Type: "bottom", Color: "9DB3C8", Style: 1}}}); err != nil {
		return nil, err
	}
	if w.title, err = w.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}}); err != nil {
		return nil, err
	}
	if w.line, err = w.f.NewStyle(&excelize.Style{Font: &excelize.Font{Size: 10, Color: "333333"}}); err != nil {
		return nil, err
	}
	text := numFmts[Text]
	if w.wrap, err = w.f.NewStyle(&excelize.Style{CustomNumFmt: &text, Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}}); err != nil {
		return nil, err
	}
	return w, nil
}

// Print is what a printed report carries around its tables, as the
// printable reports Chinese hospitals know (FineReport style): a title
// block on the first page (报表名称, 单位, 统计期间, 报表日期, 制表 and 审核
// lines), the hospital and report name in the page header, and 第 &P 页 /
// 共 &N 页 with the time it was made in the footer.
type Print struct {
	Report string    // 报表名称
	Unit   string    // 单位: the hospital and the departments in scope
	Period string    // 统计期间
	Made   time.Time // 报表日期 and 制表时间
}

// titleRows are the rows of the title block above a data sheet's header.
const titleRows = 3

// chartBesideRows is how many table rows still leave room for the chart
// below them on the same A4 landscape page.
const chartBesideRows = 12

// SheetOptions are what a data sheet has besides its rows.
type SheetOptions struct {
	// Total is the 合计 row, one value per column (nil: the table's rows
	// do not add up).
	Total []any
	// Chart is drawn below the table.
	Chart *Chart
}

// Chart draws columns of a sheet's table: the first series as Kind (col
// or line) against the left axis; a series of another format (yuan beside
// counts) as a line against a secondary axis, so that both show.
type Chart struct {
	Title string
	Kind  string
	Cols  []int // 1-based columns of the sheet
}

// headerRow is the row of a data sheet's column headers.
func (w *Workbook) headerRow() int {
	if w.Print == nil {
		return 1
	}
	return titleRows + 1
}

// SheetColumn is one column of a sheet.
type SheetColumn struct {
	Header string
	Format Format
	Width  float64
}

// Rows yields a sheet's rows, each value int64, float64, string,
// time.Time or nil, in display units (yuan, fractions for percentages).
type Rows func(yield func(row []any) bool) error

// AddSheet writes a sheet with a frozen header row, column widths and
// number formats; rows beyond MaxSheetRows continue on sheets named
// "name (2)", "name (3)", …. It returns the rows written.
func (w *Workbook) AddSheet(name string, cols []SheetColumn, rows Rows, opts ...SheetOptions) (int64, error) {
	var opt SheetOptions
	if len(opts) > 0 {
		opt = opts[0]
	}
	part := 1
	head := w.headerRow()
	sw, err := w.startSheet(name, cols)
	if err != nil {
		return 0, err
	}
	var n int64
	inSheet := 0
	cells := make([]any, len(cols))
	var werr error
	err = rows(func(row []any) bool {
		if inSheet == MaxSheetRows+1-head { // the sheet's last row (1,048,576) is full
			if werr = w.finishSheet(sw, cols, inSheet, SheetOptions{}); werr != nil {
				return false
			}
			part++
			if sw, werr = w.startSheet(fmt.Sprintf("%s (%d)", name, part), cols); werr != nil {
				return false
			}
			inSheet = 0
		}
		for j, v := range row {
			cells[j] = w.cell(cols[j].Format, v)
		}
		inSheet++
		n++
		if werr = sw.SetRow(cellName(1, inSheet+head), cells); werr != nil {
			return false
		}
		if w.Progress != nil && n%10000 == 0 {
			w.Progress(w.rows + n)
		}
		return true
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return n, err
	}
	w.rows += n
	if w.Progress != nil {
		w.Progress(w.rows)
	}
	if part > 1 {
		opt.Chart = nil // a chart over a split sheet would show its last part only
	}
	return n, w.finishSheet(sw, cols, inSheet, opt)
}

// finishSheet writes the 合计 row, the page setup and the chart of a
// streamed sheet with n data rows, then flushes it. Everything here must
// reach the sheet before Flush: the stream writer encodes the worksheet's
// page setup and drawing reference as it ends, and a chart added after
// that is never referenced by the sheet (no spreadsheet shows it).
func (w *Workbook) finishSheet(sw *excelize.StreamWriter, cols []SheetColumn, n int, opt SheetOptions) error {
	head := w.headerRow()
	last := head + n
	if opt.Total != nil && n > 0 {
		cells := make([]any, len(cols))
		for j, v := range opt.Total {
			if v == nil {
				cells[j] = excelize.Cell{StyleID: w.totals[Text]}
				continue
			}
			c := w.cell(cols[j].Format, v).(excelize.Cell)
			c.StyleID = w.totals[cols[j].Format]
			if _, ok := v.(string); ok {
				c.StyleID = w.totals[Text]
			}
			cells[j] = c
		}
		last++
		if err := sw.SetRow(cellName(1, last), cells, excelize.RowOpts{Height: 20}); err != nil {
			return err
		}
	}
	sheet := sw.Sheet
	if w.Print != nil {
		if err := w.pageSetup(sheet, head); err != nil {
			return err
		}
	}
	if opt.Chart != nil && n > 0 {
		if n > chartBesideRows && w.Print != nil {
			// A long table ends mid-page: the chart starts a page of its
			// own rather than break across two.
			if err := sw.InsertPageBreak(cellName(1, last+1)); err != nil {
				return err
			}
		}
		if err := w.addChart(sheet, cellName(1, last+2), opt.Chart, cols, head+1, head+n); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// pageSetup makes a sheet print on A4 landscape, one page wide, with the
// header row on every page and the page header and footer of w.Print.
func (w *Workbook) pageSetup(sheet string, head int) error {
	size, landscape, wide, tall := 9, "landscape", 1, 0 // 9: A4
	if err := w.f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Size: &size, Orientation: &landscape, FitToWidth: &wide, FitToHeight: &tall}); err != nil {
		return err
	}
	l, r, t, b, hm, fm := 0.4, 0.4, 0.7, 0.7, 0.3, 0.3
	center := true
	if err := w.f.SetPageMargins(sheet, &excelize.PageLayoutMarginsOptions{Left: &l, Right: &r, Top: &t, Bottom: &b, Header: &hm, Footer: &fm,
		Horizontally: &center}); err != nil {
		return err
	}
	amp := strings.NewReplacer("&", "&&")
	p := w.Print
	if err := w.f.SetHeaderFooter(sheet, &excelize.HeaderFooterOptions{
		OddHeader: "&L" + amp.Replace(p.Unit) + "&R" + amp.Replace(p.Report) + " · &A",
		OddFooter: "&L制表时间：" + p.Made.In(model.Local).Format("2006-01-02 15:04") + "&C第 &P 页 / 共 &N 页&R统计期间：" + amp.Replace(p.Period),
	}); err != nil {
		return err
	}
	if head == 0 {
		return nil // no header row to repeat
	}
	return w.f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: fmt.Sprintf("'%s'!$%d:$%d", sheet, head, head), Scope: sheet})
}

func cellName(col, row int) string {
	name, _ := excelize.CoordinatesToCellName(col, row)
	return name
}

func (w *Workbook) startSheet(name string, cols []SheetColumn) (*excelize.StreamWriter, error) {
	name = sheetName(name)
	if w.sheets == 0 {
		if err := w.f.SetSheetName("Sheet1", name); err != nil {
			return nil, err
		}
	} else if _, err := w.f.NewSheet(name); err != nil {
		return nil, err
	}
	w.sheets++
	if w.Print != nil {
		// The sheet properties go out when the stream starts: fit to page
		// must be set before it.
		fit := true
		if err := w.f.SetSheetProps(name, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
			return nil, err
		}
	}
	sw, err := w.f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	for i, c := range cols {
		if err := sw.SetColWidth(i+1, i+1, c.Width); err != nil {
			return nil, err
		}
	}
	hr := w.headerRow()
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: hr, TopLeftCell: cellName(1, hr+1), ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	if p := w.Print; p != nil {
		lastCol := colName(max(len(cols), 1))
		lines := []struct {
			text   string
			style  int
			height float64
		}{
			{p.Report + " · " + name, w.title, 24},
			{"单位：" + p.Unit + "　　统计期间：" + p.Period + "　　报表日期：" + p.Made.In(model.Local).Format("2006-01-02"), w.line, 18},
			{"制表：______________　　审核：______________　　（数据来源：zhiliao 分析库，口径见“说明”页）", w.line, 18},
		}
		for i, l := range lines {
			row := i + 1
			if err := sw.SetRow(cellName(1, row), []any{excelize.Cell{StyleID: l.style, Value: l.text}}, excelize.RowOpts{Height: l.height}); err != nil {
				return nil, err
			}
			if len(cols) > 1 {
				if err := sw.MergeCell(cellName(1, row), lastCol+fmt.Sprint(row)); err != nil {
					return nil, err
				}
			}
		}
	}
	head := make([]any, len(cols))
	for i, c := range cols {
		head[i] = excelize.Cell{StyleID: w.header, Value: c.Header}
	}
	return sw, sw.SetRow(cellName(1, hr), head, excelize.RowOpts{Height: 22})
}

// sheetName keeps a name within the 31 characters and the character set a
// sheet name allows.
func sheetName(s string) string {
	s = strings.NewReplacer(":", "：", "\\", "-", "/", "-", "?", "？", "*", "-", "[", "(", "]", ")").Replace(s)
	if r := []rune(s); len(r) > 31 {
		s = string(r[:31])
	}
	return s
}

// cell is one value with the style of its format. Text is always written
// as a string cell with the text format "@", so a value that starts with
// = + - @ (or a tab or carriage return) stays text even when edited.
func (w *Workbook) cell(f Format, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return excelize.Cell{StyleID: w.styles[Text], Value: x}
	case time.Time:
		if f != Time {
			f = Date
			x = time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, time.UTC)
		} else {
			x = x.In(model.Local)
			x = time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), 0, time.UTC)
		}
		return excelize.Cell{StyleID: w.styles[f], Value: x}
	}
	return excelize.Cell{StyleID: w.styles[f], Value: v}
}

// AddNotes writes the 说明 sheet: a title, then label and text pairs.
func (w *Workbook) AddNotes(title string, notes [][2]string) error {
	const name = "说明"
	if _, err := w.f.NewSheet(name); err != nil {
		return err
	}
	w.sheets++
	if err := w.f.SetColWidth(name, "A", "A", 22); err != nil {
		return err
	}
	if err := w.f.SetColWidth(name, "B", "B", 100); err != nil {
		return err
	}
	if err := w.f.SetCellStr(name, "A1", title); err != nil {
		return err
	}
	w.f.SetCellStyle(name, "A1", "A1", w.title)
	for i, n := range notes {
		a, b := cellName(1, i+3), cellName(2, i+3)
		if err := w.f.SetCellStr(name, a, n[0]); err != nil {
			return err
		}
		if err := w.f.SetCellStr(name, b, n[1]); err != nil {
			return err
		}
		w.f.SetCellStyle(name, a, a, w.header)
		w.f.SetCellStyle(name, b, b, w.wrap)
	}
	if w.Print != nil {
		// Printed, the notes wrap within one page's width instead of
		// running their long lines onto pages of their own.
		fit := true
		if err := w.f.SetSheetProps(name, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
			return err
		}
		return w.pageSetup(name, 0)
	}
	return nil
}

// addChart draws c at cell from the sheet's rows first..last: categories
// from the first column, one series per column of c.Cols. A series of a
// format other than the first's (yuan beside counts) is drawn as a line on
// a secondary axis, so that every series named in the title shows.
func (w *Workbook) addChart(sheet, cell string, c *Chart, cols []SheetColumn, first, last int) error {
	ref := func(col, from, to int) string {
		return fmt.Sprintf("'%s'!$%s$%d:$%s$%d", sheet, colName(col), from, colName(col), to)
	}
	typ := excelize.Col
	if c.Kind == "line" {
		typ = excelize.Line
	}
	var main, other []excelize.ChartSeries
	for i, col := range c.Cols {
		s := excelize.ChartSeries{Name: fmt.Sprintf("'%s'!$%s$%d", sheet, colName(col), first-1), Categories: ref(1, first, last), Values: ref(col, first, last)}
		if i > 0 && cols[col-1].Format != cols[c.Cols[0]-1].Format {
			other = append(other, s)
		} else {
			main = append(main, s)
		}
	}
	// Value axes start at zero: an axis an application starts at 87 makes
	// 95 against 90 look like 2 : 1. Date categories carry the sheet's date
	// format, or they read as serial numbers (46327).
	zero := 0.0
	xAxis := excelize.ChartAxis{Font: excelize.Font{Size: 8}}
	if code, ok := numFmts[cols[0].Format]; ok && (cols[0].Format == Date || cols[0].Format == Time) {
		xAxis.NumFmt = excelize.ChartNumFmt{CustomNumFmt: code}
	}
	chart := &excelize.Chart{Type: typ, Series: main,
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: c.Title}}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 900, Height: 340},
		XAxis:     xAxis,
		YAxis:     excelize.ChartAxis{Minimum: &zero},
	}
	var combo []*excelize.Chart
	if len(other) > 0 {
		combo = append(combo, &excelize.Chart{Type: excelize.Line, Series: other, YAxis: excelize.ChartAxis{Secondary: true, Minimum: &zero}})
	}
	return w.f.AddChart(sheet, cell, chart, combo...)
}

func colName(col int) string {
	name, _ := excelize.ColumnNumberToName(col)
	return name
}

// WriteTo writes the workbook, the first sheet active. excelize's own
// WriteTo assembles the whole zip in a memory buffer (about the size of the
// file, doubled while it grows); its zip writer hook lets the archive go
// straight to out instead, so memory stays flat however big the export. The
// buffer it then returns is empty. (That buffer is where excelize would patch
// ZIP64 headers for a part over 4 GiB; sheets split at MaxSheetRows with our
// report widths stay far below that.)
func (w *Workbook) WriteTo(out io.Writer) (int64, error) {
	w.f.SetActiveSheet(0)
	cw := &countingWriter{w: out}
	w.f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(cw) })
	buf, err := w.f.WriteToBuffer()
	if err != nil {
		return cw.n, err
	}
	n, err := buf.WriteTo(cw)
	_ = n
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Close releases the workbook's temporary files.
func (w *Workbook) Close() error { return w.f.Close() }

// ArrowRows yields the rows of rr as sheet values (it releases rr).
func ArrowRows(rr array.RecordReader) Rows {
	return func(yield func([]any) bool) error {
		defer rr.Release()
		row := make([]any, rr.Schema().NumFields())
		for rr.Next() {
			rec := rr.Record()
			cols := rec.Columns()
			for i := 0; i < int(rec.NumRows()); i++ {
				for j, c := range cols {
					row[j] = warehouse.Value(c, i)
				}
				if !yield(row) {
					return nil
				}
			}
		}
		return rr.Err()
	}
}

// ArrowColumns describes rr's columns for a sheet: titles by name, formats
// by type.
func ArrowColumns(schema *arrow.Schema, title func(name string) string) []SheetColumn {
	out := make([]SheetColumn, schema.NumFields())
	for i, f := range schema.Fields() {
		c := SheetColumn{Header: title(f.Name), Format: Text, Width: 14}
		switch f.Type.ID() {
		case arrow.INT64:
			c.Format, c.Width = Integer, 12
		case arrow.FLOAT64:
			c.Format = Decimal
		case arrow.DATE32:
			c.Format, c.Width = Date, 12
		case arrow.TIMESTAMP:
			c.Format, c.Width = Time, 20
		}
		if strings.HasSuffix(f.Name, "_id") {
			c.Format = ID
		}
		out[i] = c
	}
	return out
}
