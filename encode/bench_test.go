package encode_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/zhiliao/zhiliao/encode"
)

// detailRows builds n rows shaped like the workload detail of a hospital
// (20 departments, 200 projects, 400 staff, Chinese names): the biggest
// results the API serves.
func detailRows(n int) ([]arrow.Record, *arrow.Schema) {
	ts := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "day", Type: arrow.FixedWidthTypes.Date32}, {Name: "dept_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "dept_name", Type: arrow.BinaryTypes.String}, {Name: "project_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "project_name", Type: arrow.BinaryTypes.String}, {Name: "staff_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "staff_name", Type: arrow.BinaryTypes.String}, {Name: "visit_type", Type: arrow.BinaryTypes.String},
		{Name: "session_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "patient_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "patient_name", Type: arrow.BinaryTypes.String}, {Name: "started_at", Type: ts}, {Name: "ended_at", Type: ts},
		{Name: "minutes", Type: arrow.PrimitiveTypes.Int64}, {Name: "units", Type: arrow.PrimitiveTypes.Int64},
		{Name: "seq_no", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	depts := []string{"康复医学科", "理疗科", "针灸科", "激光治疗中心", "血液净化中心", "换药室", "疼痛科", "中医科", "皮肤科", "骨科"}
	surnames := []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	given := []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平")
	name := func(i int) string {
		return string([]rune{surnames[i%len(surnames)], given[(i/7)%len(given)], given[(i/3)%len(given)]})
	}
	start := time.Date(2025, 11, 24, 0, 0, 0, 0, time.UTC)
	var recs []arrow.Record
	const batch = 64 << 10
	for off := 0; off < n; off += batch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := off; i < n && i < off+batch; i++ {
			d, p, s := i%20, i%200, i%400
			at := start.Add(time.Duration(i) * 31 * time.Second)
			b.Field(0).(*array.Date32Builder).Append(arrow.Date32FromTime(at))
			b.Field(1).(*array.Int64Builder).Append(int64(d + 1))
			b.Field(2).(*array.StringBuilder).Append(depts[d%len(depts)])
			b.Field(3).(*array.Int64Builder).Append(int64(p + 1))
			b.Field(4).(*array.StringBuilder).Append(fmt.Sprintf("治疗项目%03d", p))
			b.Field(5).(*array.Int64Builder).Append(int64(s + 1))
			b.Field(6).(*array.StringBuilder).Append(name(s))
			b.Field(7).(*array.StringBuilder).Append([]string{"outpatient", "inpatient"}[i%3/2])
			b.Field(8).(*array.Int64Builder).Append(int64(1_000_000 + i))
			b.Field(9).(*array.Int64Builder).Append(int64(200_000 + i%90_000))
			b.Field(10).(*array.StringBuilder).Append(name(i % 90_000))
			b.Field(11).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Unix()))
			b.Field(12).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Add(20 * time.Minute).Unix()))
			b.Field(13).(*array.Int64Builder).Append(20 + int64(i%4)*10)
			b.Field(14).(*array.Int64Builder).Append(1 + int64(i%2))
			b.Field(15).(*array.Int64Builder).Append(1 + int64(i%10))
		}
		recs = append(recs, b.NewRecord())
		b.Release()
	}
	return recs, schema
}

func readerOf(b *testing.B, schema *arrow.Schema, recs []arrow.Record) array.RecordReader {
	rr, err := array.NewRecordReader(schema, recs)
	if err != nil {
		b.Fatal(err)
	}
	return rr
}

// BenchmarkFormats encodes and decodes the same rows as JSON (what the API
// writes, read back with encoding/json as a client would) and as an Arrow IPC
// stream (read back with the Arrow reader), reporting bytes per row.
//
//	go test ./encode -run '^$' -bench Formats -benchtime 5x
func BenchmarkFormats(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		recs, schema := detailRows(n)
		var jsonBody, arrowBody bytes.Buffer
		encode.JSONRows(&jsonBody, readerOf(b, schema, recs))
		encode.Arrow(&arrowBody, readerOf(b, schema, recs))
		b.Run(fmt.Sprintf("rows=%d/json/encode", n), func(b *testing.B) {
			b.ReportMetric(float64(jsonBody.Len())/float64(n), "bytes/row")
			for i := 0; i < b.N; i++ {
				if _, err := encode.JSONRows(io.Discard, readerOf(b, schema, recs)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("rows=%d/arrow/encode", n), func(b *testing.B) {
			b.ReportMetric(float64(arrowBody.Len())/float64(n), "bytes/row")
			for i := 0; i < b.N; i++ {
				if _, err := encode.Arrow(io.Discard, readerOf(b, schema, recs)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("rows=%d/json/decode", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var rows [][]any
				if err := json.Unmarshal(jsonBody.Bytes(), &rows); err != nil || len(rows) != n {
					b.Fatal(err, len(rows))
				}
			}
		})
		b.Run(fmt.Sprintf("rows=%d/arrow/decode", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rd, err := ipc.NewReader(bytes.NewReader(arrowBody.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for rd.Next() {
					got += int(rd.Record().NumRows())
				}
				rd.Release()
				if got != n {
					b.Fatal(got)
				}
			}
		})
		for _, r := range recs {
			r.Release()
		}
	}
}
