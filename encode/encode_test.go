package encode_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/zhiliao/zhiliao/encode"
)

func reader(t *testing.T, names []string, vals []int64, at time.Time) array.RecordReader {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, n := range names {
		b.Field(0).(*array.StringBuilder).Append(n)
		b.Field(1).(*array.Int64Builder).Append(vals[i])
		b.Field(2).(*array.Date32Builder).Append(arrow.Date32FromTime(at))
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Unix()))
	}
	b.Field(0).(*array.StringBuilder).AppendNull()
	b.Field(1).(*array.Int64Builder).AppendNull()
	b.Field(2).(*array.Date32Builder).AppendNull()
	b.Field(3).(*array.TimestampBuilder).AppendNull()
	rec := b.NewRecord()
	defer rec.Release()
	rr, err := array.NewRecordReader(schema, []arrow.Record{rec})
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// TestCSVFormulaInjection: text cells that a spreadsheet would run as a
// formula are written as text; numbers, including negative ones, stay numbers.
func TestCSVFormulaInjection(t *testing.T) {
	evil := []string{"=HYPERLINK(\"http://x\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1", "张三", "a=b"}
	vals := []int64{-5, 1, 2, 3, 4, 5, 6, 7}
	at := time.Date(2026, 9, 1, 1, 30, 0, 0, time.UTC)
	var buf bytes.Buffer
	n, err := encode.CSV(&buf, reader(t, evil, vals, at), []string{"=标题", "数量", "日期", "时间"})
	if err != nil || n != int64(len(evil)+1) {
		t.Fatal(n, err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\ufeff")) {
		t.Fatal("no byte-order mark")
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[0][0] != "'=标题" {
		t.Errorf("header %q", recs[0][0])
	}
	for i, s := range evil {
		got := recs[i+1][0]
		if s[0] == '\r' { // CRLF CSV cannot hold a lone carriage return: it is dropped after the escape
			if got != "'=1" {
				t.Errorf("%q written as %q", s, got)
			}
			continue
		}
		if strings.ContainsRune("=+-@\t\r", rune(s[0])) != (got == "'"+s) || (got != s && got != "'"+s) {
			t.Errorf("%q written as %q", s, got)
		}
		if recs[i+1][1] != []string{"-5", "1", "2", "3", "4", "5", "6", "7"}[i] {
			t.Errorf("number %q", recs[i+1][1])
		}
	}
	if recs[1][2] != "2026-09-01" || recs[1][3] != "2026-09-01 09:30:00" {
		t.Errorf("day %q, time %q (Beijing time)", recs[1][2], recs[1][3])
	}
	if last := recs[len(recs)-1]; strings.Join(last, "") != "" {
		t.Errorf("nulls as %q", last)
	}
}

// TestJSONRows: rows are valid JSON arrays with typed values and nulls.
func TestJSONRows(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 9, 1, 17, 0, 0, 0, time.UTC)
	if _, err := encode.JSONRows(&buf, reader(t, []string{"引号\"与\\反斜杠\n"}, []int64{42}, at)); err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil {
		t.Fatalf("%s: %v", buf.Bytes(), err)
	}
	if len(rows) != 2 || rows[0][0] != "引号\"与\\反斜杠\n" || rows[0][1] != float64(42) || rows[0][2] != "2026-09-01" ||
		rows[0][3] != "2026-09-02T01:00:00+08:00" || rows[1][0] != nil || rows[1][1] != nil {
		t.Errorf("rows %v", rows)
	}
}
