// Package encode owns the wire forms of query results: every result comes
// from the warehouse as an Arrow record reader, and leaves as JSON rows, CSV
// (UTF-8 with a byte-order mark, formula-injection safe) or an Arrow IPC
// stream. The API and the exports share these encoders, so a number or a
// date reads the same in every form.
package encode

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/zhiliao/zhiliao/model"
)

// Timestamps are shown in the hospitals' zone, dates as calendar days.
const (
	DayLayout  = "2006-01-02"
	TimeLayout = "2006-01-02T15:04:05+08:00"
)

// cell appends one value of a column in its JSON form.
func appendJSON(b []byte, col arrow.Array, i int) []byte {
	if col.IsNull(i) {
		return append(b, "null"...)
	}
	switch a := col.(type) {
	case *array.Int64:
		return strconv.AppendInt(b, a.Value(i), 10)
	case *array.Float64:
		return strconv.AppendFloat(b, a.Value(i), 'f', -1, 64)
	case *array.Boolean:
		return strconv.AppendBool(b, a.Value(i))
	case *array.String:
		s, _ := json.Marshal(a.Value(i))
		return append(b, s...)
	case *array.Date32:
		b = append(b, '"')
		b = a.Value(i).ToTime().AppendFormat(b, DayLayout)
		return append(b, '"')
	case *array.Timestamp:
		b = append(b, '"')
		b = time.Unix(int64(a.Value(i)), 0).In(model.Local).AppendFormat(b, TimeLayout)
		return append(b, '"')
	}
	s, _ := json.Marshal(col.ValueStr(i))
	return append(b, s...)
}

// JSONRows writes the rows of rr as a JSON array of arrays, in column
// order, and returns how many it wrote. It releases rr.
func JSONRows(w io.Writer, rr array.RecordReader) (int64, error) {
	defer rr.Release()
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int64
	buf := make([]byte, 0, 4096)
	buf = append(buf, '[')
	for rr.Next() {
		rec := rr.Record()
		cols := rec.Columns()
		for i := 0; i < int(rec.NumRows()); i++ {
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, '[')
			for j, c := range cols {
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = appendJSON(buf, c, i)
			}
			buf = append(buf, ']')
			n++
			if len(buf) > 32<<10 {
				if _, err := bw.Write(buf); err != nil {
					return n, err
				}
				buf = buf[:0]
			}
		}
	}
	if err := rr.Err(); err != nil {
		return n, err
	}
	buf = append(buf, ']')
	if _, err := bw.Write(buf); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// SafeText makes a text cell inert for spreadsheets: a cell that starts
// with = + - @ or a tab or carriage return would be read as a formula (or
// stripped into one), so it gets a leading apostrophe, which spreadsheet
// applications show as text (OWASP's CSV injection guidance).
func SafeText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// text is one value of a column as CSV text; strings are made SafeText,
// numbers stay numbers.
func text(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return ""
	}
	switch a := col.(type) {
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'f', -1, 64)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.String:
		return SafeText(a.Value(i))
	case *array.Date32:
		return a.Value(i).ToTime().Format(DayLayout)
	case *array.Timestamp:
		return time.Unix(int64(a.Value(i)), 0).In(model.Local).Format("2006-01-02 15:04:05")
	}
	return SafeText(col.ValueStr(i))
}

// bom makes spreadsheet applications read the CSV as UTF-8 (Chinese).
const bom = "\ufeff"

// CSV writes a header line of titles, then the rows of rr, and returns how
// many rows it wrote. It releases rr.
func CSV(w io.Writer, rr array.RecordReader, titles []string) (int64, error) {
	defer rr.Release()
	if len(titles) != len(rr.Schema().Fields()) {
		return 0, fmt.Errorf("encode: %d titles for %d columns", len(titles), len(rr.Schema().Fields()))
	}
	bw, cw, err := csvHead(w, titles)
	if err != nil {
		return 0, err
	}
	var n int64
	rec := make([]string, len(titles))
	for rr.Next() {
		r := rr.Record()
		cols := r.Columns()
		for i := 0; i < int(r.NumRows()); i++ {
			for j, c := range cols {
				rec[j] = text(c, i)
			}
			if err := cw.Write(rec); err != nil {
				return n, err
			}
			n++
		}
	}
	if err := rr.Err(); err != nil {
		return n, err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// csvHead starts a CSV: the byte-order mark and the header line.
func csvHead(w io.Writer, titles []string) (*bufio.Writer, *csv.Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true // what spreadsheet applications on Windows write and expect
	if _, err := bw.WriteString(bom); err != nil {
		return nil, nil, err
	}
	head := make([]string, len(titles))
	for i, t := range titles {
		head[i] = SafeText(t)
	}
	return bw, cw, cw.Write(head)
}

// CSVText writes a header line and rows of text cells as shown on screen
// (each made SafeText).
func CSVText(w io.Writer, titles []string, rows [][]string) error {
	bw, cw, err := csvHead(w, titles)
	if err != nil {
		return err
	}
	rec := make([]string, len(titles))
	for _, row := range rows {
		for j, v := range row {
			rec[j] = SafeText(v)
		}
		if err := cw.Write(rec[:len(row)]); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// Arrow writes rr as an Arrow IPC stream (the schema, then each record) and
// returns how many rows it wrote. It releases rr.
func Arrow(w io.Writer, rr array.RecordReader) (int64, error) {
	defer rr.Release()
	iw := ipc.NewWriter(w, ipc.WithSchema(rr.Schema()), ipc.WithAllocator(memory.DefaultAllocator), ipc.WithLZ4(), ipc.WithCompressConcurrency(2))
	var n int64
	for rr.Next() {
		if err := iw.Write(rr.Record()); err != nil {
			iw.Close()
			return n, err
		}
		n += rr.Record().NumRows()
	}
	if err := rr.Err(); err != nil {
		iw.Close()
		return n, err
	}
	return n, iw.Close()
}
