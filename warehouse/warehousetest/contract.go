package warehousetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
	"github.com/zhiliao/zhiliao/warehouse"
)

// Event builds the outbox event of e's current row, as the core would.
func Event(seq, tx int64, op string, e model.Entity) model.ChangeEvent {
	m := model.GetMeta(e)
	payload, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	return model.ChangeEvent{Seq: seq, Entity: e.EntityName(), EntityID: m.ID, Op: op, Version: m.Version,
		OccurredAt: m.UpdatedAt, TxID: tx, InstitutionID: m.InstitutionID, Payload: payload}
}

// Build makes a batch of events.
func Build(events ...model.ChangeEvent) *warehouse.Batch {
	bb := warehouse.NewBatchBuilder()
	defer bb.Release()
	for i := range events {
		bb.Add(&events[i])
	}
	return bb.Build()
}

func mustAppend(t *testing.T, w warehouse.Warehouse, b *warehouse.Batch) {
	t.Helper()
	if err := w.Append(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 3, 2, 1, 30, 15, 250*int(time.Millisecond), time.UTC)

// sample returns the events of a small history: a room renamed, a patient,
// and an appointment booked then checked in then cancelled-and-rebooked.
func sample() []model.ChangeEvent {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	room := &model.Room{Meta: model.Meta{ID: 7, InstitutionID: 1, Version: 1, CreatedAt: at(0), UpdatedAt: at(0)}, DeptID: 3, Code: "R1", Name: "激光室一", Beds: 2}
	pat := &model.Patient{Meta: model.Meta{ID: 11, InstitutionID: 1, Version: 1, CreatedAt: at(1), UpdatedAt: at(1)}, MRN: "MRN-11", Name: "张三", Gender: "F"}
	appt := &model.Appointment{Meta: model.Meta{ID: 21, InstitutionID: 1, Version: 1, CreatedAt: at(2), UpdatedAt: at(2)},
		State: model.State{Status: model.ApptBooked}, PatientID: 11, SlotID: 5, Channel: "wechat"}
	staff := &model.Staff{Meta: model.Meta{ID: 31, InstitutionID: 1, Version: 1, CreatedAt: at(0), UpdatedAt: at(0)}, DeptID: 3, Code: "S1", Name: "李四", Role: model.StaffTherapist, Active: true}
	var out []model.ChangeEvent
	out = append(out, Event(1, 1, model.OpCreate, room), Event(2, 2, model.OpCreate, pat), Event(3, 3, model.OpCreate, appt))
	out[1].TxID = 1 // one transaction may carry several events
	out = append(out, Event(6, 6, model.OpCreate, staff))
	room.Version, room.UpdatedAt, room.Name = 2, at(5), "激光室=一号"
	out = append(out, Event(4, 4, model.OpUpdate, room))
	checked := at(9)
	appt.Version, appt.UpdatedAt, appt.Status, appt.CheckedInAt = 2, at(9), model.ApptCheckedIn, &checked
	out = append(out, Event(5, 5, model.OpUpdate, appt))
	return out
}

// sampleIn is sample from the core of namespace ns: every id and seq moved
// into it, as that core gives them out.
func sampleIn(ns int64) []model.ChangeEvent {
	base := model.NamespaceBase(ns)
	out := sample()
	for i := range out {
		ev := &out[i]
		ev.Seq, ev.TxID, ev.EntityID, ev.InstitutionID = ev.Seq+base, ev.TxID+base, ev.EntityID+base, base+1
		var m map[string]any
		json.Unmarshal(ev.Payload, &m)
		m["id"], m["institution_id"] = ev.EntityID, ev.InstitutionID
		ev.Payload, _ = json.Marshal(m)
	}
	return out
}

// Run is the contract every engine passes with the same assertions; each
// case gets fresh storage from newEngine.
func Run(t *testing.T, newEngine func(testing.TB) Engine) {
	ctx := context.Background()

	t.Run("empty", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		defer w.Close()
		if w.ID() == "" || !strings.HasPrefix(w.ID(), w.Engine()) {
			t.Errorf("id %q", w.ID())
		}
		if hw, err := warehouse.HighWater(ctx, w, 0); err != nil || hw != 0 {
			t.Errorf("high water %d %v", hw, err)
		}
		for _, tb := range warehouse.Tables() {
			if n := Count(t, w, "SELECT count(*) FROM "+tb.Current); n != 0 {
				t.Errorf("%s: %d rows", tb.Current, n)
			}
		}
	})

	// De-identification in the engine's SQL gives what the Go masks give:
	// a warehouse query can mask in place (names of every length, Chinese
	// and Latin, mobile numbers).
	t.Run("masks in SQL", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		defer w.Close()
		values := func(vals []string) string {
			q := make([]string, len(vals))
			for i, v := range vals {
				q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
			}
			if w.Engine() == "clickhouse" {
				return "(SELECT arrayJoin([" + strings.Join(q, ", ") + "]) AS v)"
			}
			return "(SELECT unnest([" + strings.Join(q, ", ") + "]) AS v)"
		}
		check := func(what string, vals []string, expr string, want func(string) string) {
			t.Helper()
			rows := Rows(t, w, "SELECT v, "+expr+" AS m FROM "+values(vals)+" t")
			if len(rows) != len(vals) {
				t.Fatalf("%s: %d rows for %d values", what, len(rows), len(vals))
			}
			for _, r := range rows {
				if v, m := r[0].(string), r[1].(string); m != want(v) {
					t.Errorf("%s(%q) in SQL = %q, in Go %q", what, v, m, want(v))
				}
			}
		}
		check("MaskName", []string{"", "张", "张三", "张三丰", "欧阳娜娜", "A", "Li Lei", "阿卜杜热合曼·艾买提"}, policy.MaskNameSQL(w.SQL(), "v"), model.MaskName)
		check("MaskPhone", []string{"13812345678", "+8613812345678", "010-87654321"}, policy.MaskPhoneSQL(w.SQL(), "v"), model.MaskPhone)
		check("MaskPhone of a short value", []string{"", "1234", "8765432"}, policy.MaskPhoneSQL(w.SQL(), "v"),
			func(v string) string { return strings.Repeat("*", len([]rune(v))) }) // starred whole: more than the Go mask hides
	})

	t.Run("latest version per id, every version kept", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		defer w.Close()
		b := Build(sample()...)
		defer b.Release()
		mustAppend(t, w, b)
		checkSample(t, w)
		if hw, _ := warehouse.HighWater(ctx, w, 0); hw != 6 {
			t.Errorf("high water %d, want 6", hw)
		}
	})

	t.Run("repeated and partial delivery change nothing", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		defer w.Close()
		evs := sample()
		// A first attempt that died after landing only the room rows.
		partial := Build(evs...)
		partial.Events, partial.DeadLetters = nil, nil
		for entity := range partial.Raw {
			if entity != "room" {
				delete(partial.Raw, entity)
			}
		}
		if err := w.Append(ctx, &warehouse.Batch{FirstSeq: 1, LastSeq: 6, Raw: partial.Raw, Snapshot: true}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			b := Build(evs...)
			mustAppend(t, w, b)
			b.Release()
		}
		checkSample(t, w)
		if n := Count(t, w, "SELECT count(*) FROM (SELECT DISTINCT seq FROM cdc_events)"); n != 6 {
			t.Errorf("distinct events %d", n)
		}
		if n := Count(t, w, "SELECT count(*) FROM ver_room"); n != 2 {
			t.Errorf("room versions %d, want 2 after repeated delivery", n)
		}
	})

	t.Run("dead letters do not block and can be resolved", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		defer w.Close()
		evs := sample()
		bad := []model.ChangeEvent{
			{Seq: 7, Entity: "room", EntityID: 8, Op: "c", Version: 1, OccurredAt: t0, TxID: 6, InstitutionID: 1, Payload: []byte(`{"id":8,`)},
			{Seq: 8, Entity: "room", EntityID: 9, Op: "c", Version: 1, OccurredAt: t0, TxID: 7, InstitutionID: 1, Payload: []byte(`{"id":9,"version":1,"colour":"red"}`)},
			{Seq: 9, Entity: "room", EntityID: 10, Op: "c", Version: 1, OccurredAt: t0, TxID: 8, InstitutionID: 1, Payload: []byte(`{"id":10,"version":1,"beds":"two"}`)},
			{Seq: 10, Entity: "ward", EntityID: 1, Op: "c", Version: 1, OccurredAt: t0, TxID: 9, InstitutionID: 1, Payload: []byte(`{"id":1,"version":1}`)},
			{Seq: 11, Entity: "room", EntityID: 11, Op: "c", Version: 2, OccurredAt: t0, TxID: 10, InstitutionID: 1, Payload: []byte(`{"id":11,"version":1}`)},
		}
		b := Build(append(evs, bad...)...)
		mustAppend(t, w, b)
		b.Release()
		checkSample(t, w)
		if hw, _ := warehouse.HighWater(ctx, w, 0); hw != 11 {
			t.Errorf("high water %d, want 11: dead letters are part of the landed range", hw)
		}
		dl, err := w.DeadLetters(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]string{7: "bad JSON", 8: `no column "colour"`, 9: "want an integer", 10: `unknown entity "ward"`, 11: "disagree with the envelope"}
		if len(dl) != len(want) {
			t.Fatalf("dead letters %+v", dl)
		}
		for _, d := range dl {
			if !strings.Contains(d.Reason, want[d.Seq]) {
				t.Errorf("seq %d reason %q, want it to say %q", d.Seq, d.Reason, want[d.Seq])
			}
			if d.Seq == 8 && d.Payload != string(bad[1].Payload) {
				t.Errorf("payload kept as %q", d.Payload)
			}
		}
		// Delivered again, the dead letters are not doubled.
		b = Build(append(evs, bad...)...)
		mustAppend(t, w, b)
		b.Release()
		if dl, _ := w.DeadLetters(ctx, 100); len(dl) != 5 {
			t.Errorf("after redelivery %d dead letters", len(dl))
		}
		if err := w.ResolveDeadLetters(ctx, []int64{7, 10}); err != nil {
			t.Fatal(err)
		}
		dl, _ = w.DeadLetters(ctx, 100)
		if len(dl) != 3 || dl[0].Seq != 8 {
			t.Errorf("after resolving 7 and 10: %+v", dl)
		}
	})

	t.Run("types round trip and query results are Arrow", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		defer w.Close()
		b := Build(sample()...)
		mustAppend(t, w, b)
		b.Release()
		rows := Rows(t, w, "SELECT id, status, checked_in_at, cancelled_at, channel FROM cur_appointment")
		if len(rows) != 1 {
			t.Fatalf("%v", rows)
		}
		r := rows[0]
		if r[0] != int64(21) || r[1] != model.ApptCheckedIn || r[3] != nil || r[4] != "wechat" {
			t.Errorf("appointment row %v", r)
		}
		if got, want := r[2], t0.Add(9*time.Minute).Truncate(time.Second); got != want {
			t.Errorf("checked_in_at %v, want %v (second precision, UTC)", got, want)
		}
		rows = Rows(t, w, "SELECT beds, name FROM cur_room")
		if rows[0][0] != int64(2) {
			t.Errorf("room %v", rows[0])
		}
		// Booleans: a UInt8 on ClickHouse 18.16, a BOOLEAN on DuckDB; both true.
		rows = Rows(t, w, "SELECT count(*) FROM cur_staff WHERE active = 1")
		if rows[0][0] != int64(1) {
			t.Errorf("active staff %v", rows)
		}
		// Aggregates: integer sums and averages come back as Int64 and Float64.
		rows = Rows(t, w, "SELECT count(*) AS n, sum(version) AS s, avg(version) AS a FROM ver_room")
		if rows[0][0] != int64(2) || rows[0][1] != int64(3) || rows[0][2] != 1.5 {
			t.Errorf("aggregates %v (%T %T %T)", rows[0], rows[0][0], rows[0][1], rows[0][2])
		}
	})

	t.Run("reset empties and renames", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		defer w.Close()
		b := Build(sample()...)
		mustAppend(t, w, b)
		b.Release()
		old := w.ID()
		if err := w.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		if w.ID() == old {
			t.Error("reset kept the id")
		}
		if n := Count(t, w, "SELECT count(*) FROM ver_room"); n != 0 {
			t.Errorf("%d rooms after reset", n)
		}
		if hw, _ := warehouse.HighWater(ctx, w, 0); hw != 0 {
			t.Errorf("high water %d after reset", hw)
		}
	})

	t.Run("cores of several namespaces keep their own high water", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		defer w.Close()
		// The same history from a second core, namespace 7.
		base := model.NamespaceBase(7)
		other := sampleIn(7)
		b := Build(other[:3]...)
		b.FirstSeq, b.LastSeq = base+1, base+3
		mustAppend(t, w, b)
		b.Release()
		b = Build(sample()...)
		mustAppend(t, w, b)
		b.Release()
		hws, err := w.HighWaters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(hws) != 2 || hws[0] != 6 || hws[7] != base+3 {
			t.Fatalf("high waters %v, want {0: 6, 7: %d}", hws, base+3)
		}
		if head := warehouse.Head(hws); head != base+3 {
			t.Errorf("head %d", head)
		}
		b = Build(other[3:]...)
		b.FirstSeq, b.LastSeq = base+4, base+6
		mustAppend(t, w, b)
		b.Release()
		if hw, _ := warehouse.HighWater(ctx, w, 7); hw != base+6 {
			t.Errorf("namespace 7 high water %d, want %d", hw, base+6)
		}
		if hw, _ := warehouse.HighWater(ctx, w, 3); hw != 0 {
			t.Errorf("namespace 3 holds nothing: high water %d", hw)
		}
		// Each core's rows stay its own: the same history twice.
		if n := Count(t, w, "SELECT count(*) FROM cur_room WHERE name = '激光室=一号'"); n != 2 {
			t.Errorf("%d current rooms, want one per core", n)
		}
		if n := Count(t, w, "SELECT count(*) FROM cdc_events"); n != 12 {
			t.Errorf("%d events, want 12", n)
		}
	})

	t.Run("one core's rows removed, the others' kept", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		defer w.Close()
		base := model.NamespaceBase(7)
		b := Build(sample()...)
		mustAppend(t, w, b)
		b.Release()
		other := sampleIn(7)
		b = Build(other...)
		b.FirstSeq, b.LastSeq = base+1, base+6
		mustAppend(t, w, b)
		b.Release()
		// A rebuild snapshot's row of namespace 7 carries seq 0.
		snap := other[0]
		snap.Seq = 0
		var m map[string]any
		json.Unmarshal(snap.Payload, &m)
		m["id"] = base + 99
		snap.EntityID = base + 99
		snap.Payload, _ = json.Marshal(m)
		bb := warehouse.NewBatchBuilder()
		bb.AddSnapshot(&snap)
		b = bb.Build()
		b.Snapshot, b.Namespace = true, 7
		mustAppend(t, w, b)
		b.Release()
		bb.Release()
		id := w.ID()

		if err := w.ResetNamespace(ctx, 7); err != nil {
			t.Fatal(err)
		}
		if err := w.ResetNamespace(ctx, 9); err != nil { // nothing of it: nothing to do
			t.Fatal(err)
		}
		if hws, err := w.HighWaters(ctx); err != nil || len(hws) != 1 || hws[0] != 6 {
			t.Fatalf("high waters %v %v, want {0: 6}", hws, err)
		}
		if w.ID() != id {
			t.Errorf("id %s → %s: the other cores' checkpoints would no longer apply", id, w.ID())
		}
		checkSample(t, w)
		for _, tb := range warehouse.Tables() {
			for _, table := range []string{"ver_" + tb.Entity, tb.Current} { // every version, and the latest
				if n := Count(t, w, "SELECT count(*) FROM "+table+" WHERE id >= ?", base); n != 0 {
					t.Errorf("%s: %d rows of namespace 7 left", table, n)
				}
			}
		}
		if n := Count(t, w, "SELECT count(*) FROM cdc_events"); n != 6 {
			t.Errorf("%d events, want namespace 0's 6", n)
		}
		// The core relays again into the same warehouse: the same batch,
		// which replicated ClickHouse would drop as a repeat but for Reland.
		b = Build(other...)
		b.FirstSeq, b.LastSeq = base+1, base+6
		if err := w.Append(warehouse.Reland(ctx), b); err != nil {
			t.Fatal(err)
		}
		b.Release()
		if hw, _ := warehouse.HighWater(ctx, w, 7); hw != base+6 {
			t.Errorf("namespace 7 high water %d after relaying again, want %d", hw, base+6)
		}
		if n := Count(t, w, "SELECT count(*) FROM cur_room WHERE name = '激光室=一号'"); n != 2 {
			t.Errorf("%d current rooms, want one per core", n)
		}
	})

	t.Run("reopen keeps id and follows the model", func(t *testing.T) {
		e := newEngine(t)
		w := e.Open(t)
		b := Build(sample()...)
		mustAppend(t, w, b)
		b.Release()
		id := w.ID()
		// An older warehouse that lacks a column the model has now.
		// cur_room is a view on one engine and a table on the other.
		w.Exec(ctx, "DROP VIEW IF EXISTS cur_room")
		w.Exec(ctx, "DROP TABLE IF EXISTS cur_room")
		w.Exec(ctx, "DROP VIEW IF EXISTS ver_room")
		w.Exec(ctx, "DROP TABLE IF EXISTS ver_room")
		if err := w.Exec(ctx, "ALTER TABLE raw_room DROP COLUMN code"); err != nil {
			t.Fatal(err)
		}
		w.Close()
		w = e.Open(t)
		defer w.Close()
		if w.ID() != id {
			t.Errorf("id changed on reopen: %s → %s", id, w.ID())
		}
		rows := Rows(t, w, "SELECT name, code FROM cur_room")
		if len(rows) != 1 || rows[0][0] != "激光室=一号" || rows[0][1] != "" && rows[0][1] != nil {
			t.Errorf("after the column came back: %v", rows)
		}
	})
}

func checkSample(t *testing.T, w warehouse.Warehouse) {
	t.Helper()
	rows := Rows(t, w, "SELECT id, version, name, _seq FROM cur_room")
	if len(rows) != 1 || rows[0][0] != int64(7) || rows[0][1] != int64(2) || rows[0][2] != "激光室=一号" || rows[0][3] != int64(4) {
		t.Errorf("cur_room %v", rows)
	}
	if n := Count(t, w, "SELECT count(*) FROM ver_appointment"); n != 2 {
		t.Errorf("appointment versions %d", n)
	}
	if n := Count(t, w, "SELECT count(*) FROM cur_patient WHERE name = '张三'"); n != 1 {
		t.Errorf("patients %d", n)
	}
}
