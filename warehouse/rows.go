package warehouse

import (
	"fmt"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// RowSource is a query result of either engine, one row at a time. Values
// fills vals with the current row as plain Go values (nil for NULL).
type RowSource interface {
	Next() bool
	Values(vals []any) error
	Err() error
	Close() error
}

// QueryChunk is how many rows one Arrow record of a query result carries.
const QueryChunk = 64 * 1024

// NewRowReader streams a row source as Arrow records of the given schema,
// QueryChunk rows each. Both engines map their result types to the schema and
// hand their rows here, so every encoder downstream sees one input type.
func NewRowReader(schema *arrow.Schema, src RowSource) array.RecordReader {
	return &rowReader{schema: schema, src: src, refs: 1, vals: make([]any, schema.NumFields())}
}

type rowReader struct {
	schema *arrow.Schema
	src    RowSource
	refs   int64
	vals   []any
	cur    arrow.Record
	err    error
	done   bool
}

func (r *rowReader) Retain() { atomic.AddInt64(&r.refs, 1) }

func (r *rowReader) Release() {
	if atomic.AddInt64(&r.refs, -1) == 0 {
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
		r.src.Close()
	}
}

func (r *rowReader) Schema() *arrow.Schema { return r.schema }
func (r *rowReader) Record() arrow.Record  { return r.cur }
func (r *rowReader) Err() error            { return r.err }

func (r *rowReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.done || r.err != nil {
		return false
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, r.schema)
	defer b.Release()
	n := 0
	for n < QueryChunk {
		if !r.src.Next() {
			r.done = true
			if err := r.src.Err(); err != nil {
				r.err = err
				return false
			}
			break
		}
		if err := r.src.Values(r.vals); err != nil {
			r.err = err
			return false
		}
		for i, v := range r.vals {
			if err := appendValue(b.Field(i), v); err != nil {
				r.err = fmt.Errorf("column %s: %w", r.schema.Field(i).Name, err)
				return false
			}
		}
		n++
	}
	if n == 0 {
		return false
	}
	r.cur = b.NewRecord()
	return true
}

// appendValue appends one Go value of a result row to an Arrow builder.
func appendValue(b array.Builder, v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	switch b := b.(type) {
	case *array.Int64Builder:
		i, err := asInt64(v)
		if err != nil {
			return err
		}
		b.Append(i)
	case *array.Float64Builder:
		f, err := asFloat64(v)
		if err != nil {
			return err
		}
		b.Append(f)
	case *array.StringBuilder:
		switch s := v.(type) {
		case string:
			b.Append(s)
		case []byte:
			b.Append(string(s))
		default:
			return fmt.Errorf("%T is not text", v)
		}
	case *array.BooleanBuilder:
		switch x := v.(type) {
		case bool:
			b.Append(x)
		default:
			i, err := asInt64(v)
			if err != nil {
				return err
			}
			b.Append(i != 0)
		}
	case *array.TimestampBuilder:
		t, ok := v.(time.Time)
		if !ok {
			return fmt.Errorf("%T is not a time", v)
		}
		b.Append(arrow.Timestamp(t.Unix()))
	case *array.Date32Builder:
		t, ok := v.(time.Time)
		if !ok {
			return fmt.Errorf("%T is not a date", v)
		}
		// A DATE is a calendar day, not an instant: take its own Y-M-D.
		b.Append(arrow.Date32FromTime(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)))
	default:
		return fmt.Errorf("no Arrow builder for %T", b)
	}
	return nil
}

func asInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint64:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case *big.Int:
		if !x.IsInt64() {
			return 0, fmt.Errorf("%s overflows int64", x)
		}
		return x.Int64(), nil
	case float64:
		return int64(x), nil
	}
	return 0, fmt.Errorf("%T is not an integer", v)
}

func asFloat64(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case interface{ Float64() float64 }: // DuckDB DECIMAL
		return x.Float64(), nil
	}
	i, err := asInt64(v)
	return float64(i), err
}

// ReadAll drains a record reader into rows of Go values (int64, float64,
// string, bool, time.Time or nil): for tests and small results.
func ReadAll(rr array.RecordReader) ([][]any, error) {
	defer rr.Release()
	var out [][]any
	for rr.Next() {
		rec := rr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]any, rec.NumCols())
			for j, col := range rec.Columns() {
				row[j] = Value(col, i)
			}
			out = append(out, row)
		}
	}
	return out, rr.Err()
}

// Value returns row i of an Arrow array as a plain Go value.
func Value(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Timestamp:
		return time.Unix(int64(a.Value(i)), 0).UTC()
	case *array.Date32:
		return a.Value(i).ToTime()
	}
	return col.ValueStr(i)
}
