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
	header int
	title  int
	sheets int
	// Progress, when set, is told the rows written so far.
	Progress func(rows int64)
	rows     int64
}

// NewWorkbook starts an empty workbook.
func NewWorkbook() (*Workbook, error) {
	w := &Workbook{f: excelize.NewFile(), styles: map[Format]int{}}
	for f, code := range numFmts {
		code := code
		id, err := w.f.NewStyle(&excelize.Style{CustomNumFmt: &code})
		if err != nil {
			return nil, err
		}
		w.styles[f] = id
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
	return w, nil
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
func (w *Workbook) AddSheet(name string, cols []SheetColumn, rows Rows) (int64, error) {
	part := 1
	sw, err := w.startSheet(name, cols)
	if err != nil {
		return 0, err
	}
	var n int64
	inSheet := 0
	cells := make([]any, len(cols))
	var werr error
	err = rows(func(row []any) bool {
		if inSheet == MaxSheetRows {
			if werr = sw.Flush(); werr != nil {
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
		if werr = sw.SetRow(cellName(1, inSheet+1), cells); werr != nil {
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
	return n, sw.Flush()
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
	sw, err := w.f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	for i, c := range cols {
		if err := sw.SetColWidth(i+1, i+1, c.Width); err != nil {
			return nil, err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	head := make([]any, len(cols))
	for i, c := range cols {
		head[i] = excelize.Cell{StyleID: w.header, Value: c.Header}
	}
	return sw, sw.SetRow("A1", head, excelize.RowOpts{Height: 22})
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
		w.f.SetCellStyle(name, b, b, w.styles[Text])
	}
	return nil
}

// AddChart draws a line or column chart on sheet at cell from the columns
// of its data: categories in column catCol, values in valueCols, rows 2 to
// lastRow.
func (w *Workbook) AddChart(sheet, cell, title, kind string, catCol int, valueCols []int, headers []string, lastRow int) error {
	sheet = sheetName(sheet)
	typ := excelize.Col
	if kind == "line" {
		typ = excelize.Line
	}
	ref := func(col, row int) string { return "'" + sheet + "'!$" + colName(col) + "$" + fmt.Sprint(row) }
	var series []excelize.ChartSeries
	for i, c := range valueCols {
		series = append(series, excelize.ChartSeries{Name: headers[i],
			Categories: ref(catCol, 2) + ":" + strings.TrimPrefix(ref(catCol, lastRow), "'"+sheet+"'!"),
			Values:     ref(c, 2) + ":" + strings.TrimPrefix(ref(c, lastRow), "'"+sheet+"'!")})
	}
	return w.f.AddChart(sheet, cell, &excelize.Chart{Type: typ, Series: series,
		Title:  excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: title}}},
		Legend: excelize.ChartLegend{Position: "bottom"}, Dimension: excelize.ChartDimension{Width: 720, Height: 320}})
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
