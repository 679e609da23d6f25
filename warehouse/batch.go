package warehouse

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/valyala/fastjson"

	"github.com/zhiliao/zhiliao/model"
)

// BatchBuilder turns CDC events into a Batch: the envelope into the events
// record, the payload decoded into the typed columns of the entity's raw
// table, and whatever cannot be decoded into dead letters with the reason.
//
// Payloads are decoded with valyala/fastjson rather than encoding/json: the
// relay decodes every event of the hospital once, and reflection-based
// decoding into structs was the slowest stage of the pipeline (DESIGN.md §5).
// A builder is not safe for concurrent use; Build resets it.
type BatchBuilder struct {
	mem      memory.Allocator
	events   *array.RecordBuilder
	raw      map[string]*array.RecordBuilder
	dead     []DeadLetter
	first    int64
	last     int64
	n        int
	snapshot bool
	parser   fastjson.Parser
	scratch  []fieldValue
}

type fieldValue struct {
	set  bool
	null bool
	i    int64
	s    []byte
	b    bool
}

// NewBatchBuilder returns an empty builder.
func NewBatchBuilder() *BatchBuilder {
	return &BatchBuilder{mem: memory.DefaultAllocator, raw: map[string]*array.RecordBuilder{}}
}

// Len is how many events were added since the last Build.
func (bb *BatchBuilder) Len() int { return bb.n }

// Add adds one outbox event. An event that cannot be decoded becomes a dead
// letter of the batch; Add itself never fails, so one bad payload never blocks
// the events behind it.
func (bb *BatchBuilder) Add(ev *model.ChangeEvent) {
	if bb.n == 0 || ev.Seq < bb.first {
		bb.first = ev.Seq
	}
	if ev.Seq > bb.last {
		bb.last = ev.Seq
	}
	bb.n++
	if err := bb.addRaw(ev); err != nil {
		bb.dead = append(bb.dead, DeadLetter{Seq: ev.Seq, Entity: ev.Entity, EntityID: ev.EntityID, Op: ev.Op,
			Version: ev.Version, OccurredAt: ev.OccurredAt, TxID: ev.TxID, InstitutionID: ev.InstitutionID,
			Payload: string(ev.Payload), Reason: err.Error()})
		return
	}
	if bb.snapshot {
		return
	}
	if bb.events == nil {
		bb.events = array.NewRecordBuilder(bb.mem, EventsSchema)
	}
	f := bb.events.Fields()
	f[0].(*array.Int64Builder).Append(ev.Seq)
	f[1].(*array.StringBuilder).Append(ev.Entity)
	f[2].(*array.Int64Builder).Append(ev.EntityID)
	f[3].(*array.StringBuilder).Append(ev.Op)
	f[4].(*array.Int64Builder).Append(ev.Version)
	f[5].(*array.TimestampBuilder).Append(arrow.Timestamp(ev.OccurredAt.Unix()))
	f[6].(*array.Int64Builder).Append(ev.TxID)
	f[7].(*array.Int64Builder).Append(ev.InstitutionID)
	f[8].(*array.StringBuilder).BinaryBuilder.Append(ev.Payload)
}

// AddSnapshot adds a row of a rebuild snapshot: raw table only.
func (bb *BatchBuilder) AddSnapshot(ev *model.ChangeEvent) {
	bb.snapshot = true
	bb.Add(ev)
}

// Build returns the batch of everything added and resets the builder. The
// caller releases the batch.
func (bb *BatchBuilder) Build() *Batch {
	b := &Batch{FirstSeq: bb.first, LastSeq: bb.last, Raw: map[string]arrow.Record{}, DeadLetters: bb.dead, Snapshot: bb.snapshot}
	if bb.events != nil {
		b.Events = bb.events.NewRecord()
	}
	for entity, rb := range bb.raw {
		if rb.Field(0).Len() > 0 {
			b.Raw[entity] = rb.NewRecord()
		}
	}
	bb.dead, bb.n, bb.first, bb.last, bb.snapshot = nil, 0, 0, 0, false
	return b
}

// Release frees the builder's buffers.
func (bb *BatchBuilder) Release() {
	if bb.events != nil {
		bb.events.Release()
	}
	for _, rb := range bb.raw {
		rb.Release()
	}
}

func (bb *BatchBuilder) addRaw(ev *model.ChangeEvent) error {
	t := TableOf(ev.Entity)
	if t == nil {
		return fmt.Errorf("unknown entity %q", ev.Entity)
	}
	switch ev.Op {
	case model.OpCreate, model.OpUpdate, model.OpDelete:
	default:
		return fmt.Errorf("unknown op %q", ev.Op)
	}
	v, err := bb.parser.ParseBytes(ev.Payload)
	if err != nil {
		return fmt.Errorf("bad JSON: %v", err)
	}
	obj, err := v.Object()
	if err != nil {
		return fmt.Errorf("payload is not a JSON object")
	}
	if cap(bb.scratch) < len(t.Columns) {
		bb.scratch = make([]fieldValue, len(t.Columns))
	}
	vals := bb.scratch[:len(t.Columns)]
	for i := range vals {
		vals[i] = fieldValue{}
	}
	var ferr error
	obj.Visit(func(key []byte, v *fastjson.Value) {
		if ferr != nil {
			return
		}
		i, ok := t.FieldIndex[string(key)]
		if !ok {
			ferr = fmt.Errorf("schema drift: %s has no column %q", t.Name, key)
			return
		}
		if err := decodeField(&vals[i], t.Columns[i].Kind, v); err != nil {
			ferr = fmt.Errorf("%s.%s: %v", ev.Entity, key, err)
		}
	})
	if ferr != nil {
		return ferr
	}
	// The envelope and the row must agree; a disagreement is corruption, not
	// something to land.
	idCol, verCol := t.FieldIndex["id"], t.FieldIndex["version"]
	if vals[idCol].i != ev.EntityID || vals[verCol].i != ev.Version {
		return fmt.Errorf("payload id/version %d/%d disagree with the envelope's %d/%d", vals[idCol].i, vals[verCol].i, ev.EntityID, ev.Version)
	}
	rb := bb.raw[ev.Entity]
	if rb == nil {
		rb = array.NewRecordBuilder(bb.mem, t.Schema)
		bb.raw[ev.Entity] = rb
	}
	f := rb.Fields()
	f[0].(*array.Int64Builder).Append(ev.Seq)
	f[1].(*array.StringBuilder).Append(ev.Op)
	f[2].(*array.TimestampBuilder).Append(arrow.Timestamp(ev.OccurredAt.Unix()))
	f[3].(*array.Int64Builder).Append(ev.TxID)
	for i := EnvelopeColumns; i < len(vals); i++ {
		fv := &vals[i]
		kind := t.Columns[i].Kind
		if fv.null || (!fv.set && kind.Nullable()) {
			f[i].AppendNull()
			continue
		}
		switch kind {
		case model.KindInt, model.KindNullInt:
			f[i].(*array.Int64Builder).Append(fv.i)
		case model.KindString:
			f[i].(*array.StringBuilder).BinaryBuilder.Append(fv.s)
		case model.KindBool:
			f[i].(*array.BooleanBuilder).Append(fv.b)
		case model.KindTime, model.KindNullTime:
			f[i].(*array.TimestampBuilder).Append(arrow.Timestamp(fv.i))
		}
	}
	return nil
}

func decodeField(fv *fieldValue, kind model.FieldKind, v *fastjson.Value) error {
	fv.set = true
	if v.Type() == fastjson.TypeNull {
		if !kind.Nullable() {
			return fmt.Errorf("null in a NOT NULL column")
		}
		fv.null = true
		return nil
	}
	switch kind {
	case model.KindInt, model.KindNullInt:
		i, err := v.Int64()
		if err != nil {
			return fmt.Errorf("want an integer: %v", err)
		}
		fv.i = i
	case model.KindString:
		s, err := v.StringBytes()
		if err != nil {
			return fmt.Errorf("want a string: %v", err)
		}
		fv.s = s
	case model.KindBool:
		b, err := v.Bool()
		if err != nil {
			return fmt.Errorf("want a boolean: %v", err)
		}
		fv.b = b
	case model.KindTime, model.KindNullTime:
		s, err := v.StringBytes()
		if err != nil {
			return fmt.Errorf("want a time: %v", err)
		}
		t, err := parseTime(s)
		if err != nil {
			return err
		}
		fv.i = t
	}
	return nil
}

// parseTime reads a JSON time as Unix seconds. The core writes UTC with
// milliseconds ("2026-03-01T08:00:00.123Z"); that layout is read by hand
// because time.Parse was a fifth of the decode cost; anything else goes
// through time.Parse.
func parseTime(b []byte) (int64, error) {
	if len(b) == 24 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[19] == '.' && b[23] == 'Z' {
		num := func(lo, hi int) (int, bool) {
			n := 0
			for _, c := range b[lo:hi] {
				if c < '0' || c > '9' {
					return 0, false
				}
				n = n*10 + int(c-'0')
			}
			return n, true
		}
		y, ok1 := num(0, 4)
		mo, ok2 := num(5, 7)
		d, ok3 := num(8, 10)
		h, ok4 := num(11, 13)
		mi, ok5 := num(14, 16)
		s, ok6 := num(17, 19)
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && s < 60 {
			return time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC).Unix(), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, fmt.Errorf("want an RFC 3339 time: %v", err)
	}
	return t.Unix(), nil
}
