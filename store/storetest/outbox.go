package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// testOutboxAtomicity: a fault after the domain writes and before COMMIT
// leaves neither the rows nor their outbox events.
func testOutboxAtomicity(t *testing.T) {
	e := newEnv(t)
	c, _ := e.course(e.plain, 3)
	slots := e.slots(2)
	before := e.snapshot()
	boom := errors.New("injected fault before commit")
	e.db.BeforeCommit = func(context.Context) error { return boom }
	_, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelWechat})
	if !errors.Is(err, boom) {
		t.Fatalf("want injected fault, got %v", err)
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("rolled-back booking left writes: %+v → %+v", before, after)
	}
	e.db.BeforeCommit = nil
	a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelWechat})
	e.must(err)
	var events int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM cdc_outbox WHERE entity = 'appointment' AND entity_id = ?", a.ID).Scan(&events))
	if events != 1 {
		t.Fatalf("committed booking has %d appointment events", events)
	}
}

// testBatchSavepoints: inside a batch a refused call rolls back alone, with
// its events; the rest commits under one tx_id.
func testBatchSavepoints(t *testing.T) {
	e := newEnv(t)
	c, _ := e.course(e.plain, 3)
	c2, _ := e.course(e.plain, 3)
	slots := e.slots(1)
	start := e.snapshot()
	var refused error
	err := e.db.Batch(e.ctx, func(ctx context.Context) error {
		if _, err := e.db.BookAppointment(ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelOnsite}); err != nil {
			return err
		}
		_, refused = e.db.BookAppointment(ctx, model.NewAppointment{CourseID: c2.ID, SlotID: slots[0].ID, Channel: model.ChannelOnsite})
		_, err := e.db.BookAppointment(ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[1].ID, Channel: model.ChannelOnsite})
		return err
	})
	e.must(err)
	wantRule(t, refused, "slot.full")
	var txs, c2Appts, seqs int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(DISTINCT tx_id), COUNT(*) FROM cdc_outbox WHERE seq > ?", start.maxSeq).Scan(&txs, &seqs))
	e.must(e.db.QueryRowContext(e.ctx, "SELECT COUNT(*) FROM appointment WHERE course_id = ?", c2.ID).Scan(&c2Appts))
	if txs != 1 || c2Appts != 0 {
		t.Fatalf("batch tx ids %d, refused course appointments %d", txs, c2Appts)
	}
	// Two bookings: slot +1, appointment created, two notifications each.
	if seqs != 2*(1+1+2) {
		t.Fatalf("batch wrote %d events", seqs)
	}
	var maxSeq, n int64
	e.must(e.db.QueryRowContext(e.ctx, "SELECT MAX(seq), COUNT(*) FROM cdc_outbox").Scan(&maxSeq, &n))
	// SQLite numbers the outbox without gaps; a PostgreSQL sequence does
	// not roll back, and there the positions the relay gives are gapless
	// instead (TestRelayPositionsOnPostgres).
	if !onPostgres && maxSeq-start.maxSeq != int64(seqs) {
		t.Fatalf("seq gap after a rolled-back savepoint: max %d start %d events %d", maxSeq, start.maxSeq, seqs)
	}
}

// testOutboxOrderAndVersions walks a course and checks the outbox envelope:
// seq strictly increasing, versions 1..n per entity id, one tx_id per
// transaction, and the latest payload equal to the row.
func testOutboxOrderAndVersions(t *testing.T) {
	e := newEnv(t)
	c, _ := e.course(e.plain, 2)
	slots := e.slots(2)
	a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelKiosk})
	e.must(err)
	e.clock.Set(slots[0].StartAt)
	tk, err := e.db.CheckIn(e.ctx, a.ID)
	e.must(err)
	s, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
	e.must(err)
	_, rec, err := e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s.ID, Units: 2, RecordContent: `{"note":"良好"}`})
	e.must(err)
	_, err = e.db.SignRecord(e.ctx, rec.ID, e.staff.ID)
	e.must(err)
	_, err = e.db.AmendRecord(e.ctx, rec.ID, `{"note":"补充：无不良反应"}`)
	e.must(err)
	_, err = e.db.SignRecord(e.ctx, rec.ID, e.staff.ID)
	e.must(err)

	rows, err := e.db.QueryContext(e.ctx, "SELECT seq, entity, entity_id, op, version, tx_id, payload FROM cdc_outbox ORDER BY seq")
	e.must(err)
	defer rows.Close()
	lastSeq := int64(0)
	versions := map[[2]any]int64{}
	txFirst := map[int64]int64{}
	latest := map[[2]any]string{}
	for rows.Next() {
		var seq, id, version, txID int64
		var entity, op, payload string
		e.must(rows.Scan(&seq, &entity, &id, &op, &version, &txID, &payload))
		if seq <= lastSeq {
			t.Fatalf("seq %d after %d", seq, lastSeq)
		}
		lastSeq = seq
		key := [2]any{entity, id}
		if version != versions[key]+1 {
			t.Fatalf("%s %d: version %d after %d", entity, id, version, versions[key])
		}
		if (version == 1) != (op == model.OpCreate) {
			t.Fatalf("%s %d: op %s at version %d", entity, id, op, version)
		}
		versions[key] = version
		if _, ok := txFirst[txID]; !ok {
			txFirst[txID] = seq
			if txID != seq && !(onPostgres && txID < seq) {
				t.Fatalf("tx_id %d is not the seq of its first event %d", txID, seq)
			}
		}
		latest[key] = payload
		var m map[string]any
		e.must(json.Unmarshal([]byte(payload), &m))
		if m["version"].(float64) != float64(version) || m["id"].(float64) != float64(id) {
			t.Fatalf("payload id/version %v/%v vs envelope %d/%d", m["id"], m["version"], id, version)
		}
	}
	e.must(rows.Err())
	if v := versions[[2]any{"record", rec.ID}]; v != 4 { // create, sign, amend, sign
		t.Fatalf("record versions %d", v)
	}
	// The last payload of the record equals the row as read back now, but
	// for the patient's name, masked on its way to the warehouse (vault.go).
	var got model.Record
	e.must(json.Unmarshal([]byte(latest[[2]any{"record", rec.ID}]), &got))
	cur, err := e.db.Record(e.ctx, rec.ID)
	e.must(err)
	if got.PatientName != model.MaskName(cur.PatientName) || got.PatientName == cur.PatientName {
		t.Errorf("payload's patient name %q, row's %q", got.PatientName, cur.PatientName)
	}
	got.PatientName = cur.PatientName
	if !reflect.DeepEqual(&got, cur) {
		t.Fatalf("latest payload %+v\nrow %+v", got, cur)
	}
}

// testSchemaMatchesModel: every entity table has exactly the model's columns,
// so payloads are full rows, plus the blind index of each sealed column.
func testSchemaMatchesModel(t *testing.T) {
	db := mustOpenDB(t)
	for _, e := range store.Entities() {
		query := "SELECT name FROM pragma_table_info(?) ORDER BY cid"
		if onPostgres {
			query = "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position"
		}
		rows, err := db.QueryContext(context.Background(), query, store.TableName(e.EntityName()))
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			cols = append(cols, n)
		}
		rows.Close()
		want := store.Columns(e)
		if e.EntityName() == "patient" {
			want = append(want, "phone_bidx", "id_number_bidx", "phone_tail_bidx")
		}
		if !reflect.DeepEqual(cols, want) {
			t.Errorf("%s: table %v\nmodel %v", e.EntityName(), cols, want)
		}
	}
}

// testOutOfDateSchemaRefused: an existing database behind the binary's
// migrations is refused unless migration is asked for.
func testOutOfDateSchemaRefused(t *testing.T) {
	sqliteOnly(t, "the PostgreSQL migrations start at one version")
	path := filepath.Join(t.TempDir(), "core.db")
	ctx := context.Background()
	if err := store.MigrateTo(ctx, path, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(ctx, path, store.Options{}); !errors.Is(err, store.ErrSchemaOutOfDate) {
		t.Fatalf("want ErrSchemaOutOfDate, got %v", err)
	}
	db, err := store.Open(ctx, path, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, _ := db.SchemaVersion(ctx); v != store.LatestSchemaVersion() || v < 4 {
		t.Fatalf("schema version %d", v)
	}
}

// testAppendOnlyHistory: the database itself refuses to rewrite history.
func testAppendOnlyHistory(t *testing.T) {
	e := newEnv(t)
	e.course(e.plain, 1)
	driver := "sqlite"
	if onPostgres {
		driver = "pgx"
	}
	raw, err := sql.Open(driver, e.db.Path)
	e.must(err)
	defer raw.Close()
	for _, q := range []string{"UPDATE status_history SET to_status = 'x'", "DELETE FROM status_history", "UPDATE cdc_outbox SET payload = '{}'"} {
		if _, err := raw.Exec(q); err == nil || !strings.Contains(err.Error(), "append_only") {
			t.Fatalf("%s: want append_only refusal, got %v", q, err)
		}
	}
}
