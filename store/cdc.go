package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

const readOutboxSQL = `SELECT seq, entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload
FROM cdc_outbox WHERE seq > ? ORDER BY seq LIMIT ?`

// ReadOutbox appends to buf up to limit events with seq > after, in seq
// order, reusing the payload slices of buf's spare capacity (the relay hands
// the same buffer back batch after batch).
func (db *DB) ReadOutbox(ctx context.Context, after int64, limit int, buf []model.ChangeEvent) ([]model.ChangeEvent, error) {
	query := readOutboxSQL
	if db.eng.ShipColumn() != "seq" {
		// Events ship in commit order: by the position the relay gives them
		// here (store/postgres), which is the seq the warehouse sees.
		if err := db.eng.Position(ctx, db.w, limit); err != nil {
			return buf, err
		}
		query = readOutboxByPosSQL
	}
	rows, err := readStmts{db}.QueryContext(ctx, query, after, limit)
	if err != nil {
		return buf, err
	}
	defer rows.Close()
	var occurred sql.RawBytes
	var payload sql.RawBytes
	for rows.Next() {
		var r model.ChangeEvent
		if n := len(buf); n < cap(buf) {
			r = buf[:n+1][n] // reuse the payload slice of an earlier batch
		}
		if err := rows.Scan(&r.Seq, &r.Entity, &r.EntityID, &r.Op, &r.Version, &occurred, &r.TxID, &r.InstitutionID, &payload); err != nil {
			return buf, err
		}
		if r.OccurredAt, err = parseTime(string(occurred)); err != nil {
			return buf, fmt.Errorf("outbox seq %d: occurred_at: %w", r.Seq, err)
		}
		r.Payload = append(r.Payload[:0], payload...)
		if err := db.scrubEvent(&r); err != nil {
			return buf, err
		}
		buf = append(buf, r)
	}
	return buf, rows.Err()
}

const readOutboxByPosSQL = `SELECT pos, entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload
FROM cdc_outbox WHERE pos > ? ORDER BY pos LIMIT ?`

// headQuery is the last committed seq: on PostgreSQL the last position given
// plus the committed events still waiting for one.
func (db *DB) headQuery() string { return db.eng.HeadQuery() }

// OutboxHead returns the last committed seq (0 for an empty outbox).
func (db *DB) OutboxHead(ctx context.Context) (int64, error) {
	var seq int64
	err := readStmts{db}.QueryRowContext(ctx, db.headQuery()).Scan(&seq)
	return seq, err
}

// OutboxOldestAfter returns when the first event after seq was committed, or
// the zero time when there is none: the relay's lag in seconds.
func (db *DB) OutboxOldestAfter(ctx context.Context, seq int64) (time.Time, error) {
	var s sql.NullString
	query := "SELECT occurred_at FROM cdc_outbox WHERE seq > ? ORDER BY seq LIMIT 1"
	if db.eng.ShipColumn() != "seq" {
		query = "SELECT occurred_at FROM cdc_outbox WHERE pos > ? OR pos IS NULL ORDER BY seq LIMIT 1"
	}
	err := readStmts{db}.QueryRowContext(ctx, query, seq).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !s.Valid) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return parseTime(s.String)
}

// CDCCheckpoint is where the relay stands: WarehouseID holds every event up to
// Seq; PrunedThrough is the highest seq ever pruned from the outbox.
type CDCCheckpoint struct {
	WarehouseID   string
	Seq           int64
	PrunedThrough int64
	UpdatedAt     time.Time
}

// Checkpoint returns the relay checkpoint, the zero value when none was saved.
func (db *DB) Checkpoint(ctx context.Context) (CDCCheckpoint, error) {
	var c CDCCheckpoint
	var at string
	err := db.r.QueryRowContext(ctx, "SELECT warehouse_id, seq, pruned_through, updated_at FROM cdc_checkpoint WHERE id = 1").
		Scan(&c.WarehouseID, &c.Seq, &c.PrunedThrough, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return CDCCheckpoint{}, nil
	}
	if err != nil {
		return c, err
	}
	c.UpdatedAt, err = parseTime(at)
	return c, err
}

// SaveCheckpoint records that warehouseID holds every event up to seq. A
// checkpoint for another warehouse replaces the old one (a rebuild or a new
// warehouse); for the same warehouse it never moves backwards.
func (db *DB) SaveCheckpoint(ctx context.Context, warehouseID string, seq int64) error {
	_, err := db.w.ExecContext(ctx, db.sqlText(`INSERT INTO cdc_checkpoint (id, warehouse_id, seq, updated_at) VALUES (1, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
  seq = CASE WHEN cdc_checkpoint.warehouse_id = excluded.warehouse_id AND cdc_checkpoint.seq > excluded.seq
    THEN cdc_checkpoint.seq ELSE excluded.seq END,
  warehouse_id = excluded.warehouse_id, updated_at = excluded.updated_at`), warehouseID, seq, formatTime(db.Now()))
	return err
}

// pruneChunk bounds one prune transaction so that the writer, which also
// serves clinicians, is never held for long.
const pruneChunk = 5000

// PruneOutbox deletes outbox rows that are both checkpointed (by the
// warehouse's relay and by every HL7 feed) and older than before, in small transactions, and returns how many left. The database
// refuses to delete an unchecked row whatever the caller asks (see the
// cdc_outbox_prune_checkpointed trigger).
func (db *DB) PruneOutbox(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	seq := db.eng.ShipColumn() // the checkpoint counts positions on PostgreSQL
	for {
		var n int64
		err := db.write(ctx, func(tx *Tx) error {
			var hi sql.NullInt64
			if err := tx.queryRow(`SELECT max(`+seq+`) FROM (SELECT `+seq+` FROM cdc_outbox
WHERE `+seq+` <= (SELECT seq FROM cdc_checkpoint WHERE id = 1)
  AND `+seq+` <= COALESCE((SELECT min(seq) FROM feed_checkpoint), 9223372036854775807)
  AND occurred_at < ? ORDER BY `+seq+` LIMIT ?) AS oldest`,
				formatTime(before), pruneChunk).Scan(&hi); err != nil || !hi.Valid {
				return err
			}
			res, err := tx.exec("DELETE FROM cdc_outbox WHERE "+seq+" <= ?", hi.Int64)
			if err != nil {
				return err
			}
			n, _ = res.RowsAffected()
			_, err = tx.exec("UPDATE cdc_checkpoint SET pruned_through = CASE WHEN pruned_through > ? THEN pruned_through ELSE ? END WHERE id = 1", hi.Int64, hi.Int64)
			return err
		})
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// Snapshot emits, from one consistent read of the core, every current row
// whose version the outbox no longer holds, as a change event with Seq 0 and
// TxID 0, and returns the outbox head of that read. A warehouse rebuilt from
// this snapshot plus a replay of the outbox holds every row's latest version
// exactly once. prunedThrough is the highest seq ever pruned: the snapshot
// stands in for the events up to it.
func (db *DB) Snapshot(ctx context.Context, fn func(model.ChangeEvent) error) (head, prunedThrough int64, err error) {
	conn, err := db.r.Conn(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	opts := &sql.TxOptions{ReadOnly: true, Isolation: db.eng.SnapshotIsolation()}
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, db.headQuery()).Scan(&head); err != nil {
		return 0, 0, err
	}
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE((SELECT pruned_through FROM cdc_checkpoint WHERE id = 1), 0)").Scan(&prunedThrough); err != nil {
		return 0, 0, err
	}
	if prunedThrough == 0 {
		return head, 0, nil // the outbox holds every version ever written
	}
	// Which version of each row the outbox still holds, from one scan of it;
	// a row whose latest version is there is replayed, not snapshotted.
	held := map[string]map[int64]int64{}
	orows, err := tx.QueryContext(ctx, "SELECT entity, entity_id, max(version) FROM cdc_outbox GROUP BY entity, entity_id")
	if err != nil {
		return 0, 0, err
	}
	for orows.Next() {
		var ent string
		var id, v int64
		if err := orows.Scan(&ent, &id, &v); err != nil {
			orows.Close()
			return 0, 0, err
		}
		if held[ent] == nil {
			held[ent] = map[int64]int64{}
		}
		held[ent][id] = v
	}
	if err := orows.Close(); err != nil {
		return 0, 0, err
	}
	for _, proto := range model.Entities() {
		tb := tableOf(proto)
		rows, err := tx.QueryContext(ctx, tb.selectSQL)
		if err != nil {
			return 0, 0, err
		}
		for rows.Next() {
			e := reflect.New(reflect.TypeOf(proto).Elem()).Interface().(model.Entity)
			if err := tb.scan(rows, e); err != nil {
				rows.Close()
				return 0, 0, err
			}
			db.unseal(tb, e)
			m := model.GetMeta(e)
			if held[tb.entity][m.ID] >= m.Version {
				continue
			}
			payload, err := db.payload(e)
			if err != nil {
				rows.Close()
				return 0, 0, err
			}
			op := model.OpUpdate
			if m.Version == 1 {
				op = model.OpCreate
			}
			if err := fn(model.ChangeEvent{Entity: tb.entity, EntityID: m.ID, Op: op, Version: m.Version,
				OccurredAt: m.UpdatedAt, InstitutionID: m.InstitutionID, Payload: payload}); err != nil {
				rows.Close()
				return 0, 0, err
			}
		}
		if err := rows.Close(); err != nil {
			return 0, 0, err
		}
	}
	return head, prunedThrough, nil
}
