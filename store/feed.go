package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// The HL7 v2 feed's state in the core: each peer's position in the outbox,
// and the queue of messages with their delivery. The outbox keeps what a
// peer has not read yet (PruneOutbox honours the feed's checkpoints).

// FeedCheckpoint is where a peer's reading of the outbox stands. A peer
// seen for the first time starts at the outbox's head: it is told the
// changes from the day it is configured, not the hospital's history.
func (db *DB) FeedCheckpoint(ctx context.Context, peer string) (int64, error) {
	var seq int64
	err := db.r.QueryRowContext(ctx, db.sqlText("SELECT seq FROM feed_checkpoint WHERE peer = ?"), peer).Scan(&seq)
	if err == nil {
		return seq, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	head, err := db.OutboxHead(ctx)
	if err != nil {
		return 0, err
	}
	_, err = db.w.ExecContext(ctx, db.sqlText("INSERT INTO feed_checkpoint (peer, seq, updated_at) VALUES (?, ?, ?) ON CONFLICT (peer) DO NOTHING"),
		peer, head, formatTime(db.Now()))
	if err != nil {
		return 0, err
	}
	err = db.r.QueryRowContext(ctx, db.sqlText("SELECT seq FROM feed_checkpoint WHERE peer = ?"), peer).Scan(&seq)
	return seq, err
}

// EnqueueFeed queues msgs and moves the peer's checkpoint from from to
// through, in one transaction: a change is queued once, even when two
// instances read the same stretch (the second finds the checkpoint moved
// and changes nothing). A message whose control id the peer already has is
// skipped (a session told complete once, however often it changes after):
// it returns how many were queued.
func (db *DB) EnqueueFeed(ctx context.Context, peer string, from, through int64, msgs []model.FeedMessage) (int, error) {
	queued := 0
	err := db.write(model.WithActor(ctx, model.Actor{Role: model.RoleSystem}), func(tx *Tx) error {
		queued = 0
		res, err := tx.exec("UPDATE feed_checkpoint SET seq = ?, updated_at = ? WHERE peer = ? AND seq = ?", through, formatTime(tx.now), peer, from)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return model.Conflict("feed.moved", "HL7 feed %s moved past %d meanwhile", peer, from)
		}
		for _, m := range msgs {
			res, err := tx.exec(`INSERT INTO feed_message (peer, seq, institution_id, patient_id, type, control_id, entity, entity_id, message, status, created_at, next_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (peer, control_id) DO NOTHING`,
				peer, m.Seq, m.InstitutionID, m.PatientID, m.Type, m.ControlID, m.Entity, m.EntityID, m.Message, formatTime(tx.now), formatTime(tx.now))
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			queued += int(n)
		}
		return nil
	})
	return queued, err
}

const feedCols = `id, peer, seq, institution_id, patient_id, type, control_id, entity, entity_id, message, status, attempts, ack_code, last_error, created_at, next_at, done_at`

func scanFeed(s interface{ Scan(...any) error }) (*model.FeedMessage, error) {
	m := &model.FeedMessage{}
	var created, next string
	var done sql.NullString
	if err := s.Scan(&m.ID, &m.Peer, &m.Seq, &m.InstitutionID, &m.PatientID, &m.Type, &m.ControlID, &m.Entity, &m.EntityID, &m.Message,
		&m.Status, &m.Attempts, &m.AckCode, &m.LastError, &created, &next, &done); err != nil {
		return nil, err
	}
	m.CreatedAt, _ = parseTime(created)
	m.NextAt, _ = parseTime(next)
	if done.Valid {
		t, _ := parseTime(done.String)
		m.DoneAt = &t
	}
	return m, nil
}

// NextFeedMessage is the peer's oldest queued message (nil: none). The
// sender waits for its NextAt before trying it: messages go out in order.
func (db *DB) NextFeedMessage(ctx context.Context, peer string) (*model.FeedMessage, error) {
	m, err := scanFeed(db.r.QueryRowContext(ctx, db.sqlText("SELECT "+feedCols+" FROM feed_message WHERE peer = ? AND status = 'queued' ORDER BY id LIMIT 1"), peer))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return m, err
}

// FeedAcked records that the peer accepted a message.
func (db *DB) FeedAcked(ctx context.Context, id int64, ackCode string) error {
	return db.feedExec(ctx, func(now string) (string, []any) {
		return "UPDATE feed_message SET status = 'acked', ack_code = ?, attempts = attempts + 1, done_at = ? WHERE id = ? AND status = 'queued'",
			[]any{ackCode, now, id}
	})
}

// FeedRetry records a failed attempt and when to try again.
func (db *DB) FeedRetry(ctx context.Context, id int64, ackCode, reason string, next time.Time) error {
	return db.feedExec(ctx, func(string) (string, []any) {
		return "UPDATE feed_message SET attempts = attempts + 1, ack_code = ?, last_error = ?, next_at = ? WHERE id = ? AND status = 'queued'",
			[]any{ackCode, reason, formatTime(next), id}
	})
}

// FeedDead gives a message up with the reason: the next one goes out.
func (db *DB) FeedDead(ctx context.Context, id int64, ackCode, reason string) error {
	return db.feedExec(ctx, func(now string) (string, []any) {
		return "UPDATE feed_message SET status = 'dead', attempts = attempts + 1, ack_code = ?, last_error = ?, done_at = ? WHERE id = ? AND status = 'queued'",
			[]any{ackCode, reason, now, id}
	})
}

// feedExec runs one delivery update as the system, at the transaction's time.
func (db *DB) feedExec(ctx context.Context, stmt func(now string) (string, []any)) error {
	return db.write(model.WithActor(ctx, model.Actor{Role: model.RoleSystem}), func(tx *Tx) error {
		q, args := stmt(formatTime(tx.now))
		_, err := tx.exec(q, args...)
		return err
	})
}

// ReplayFeedMessage puts a dead message back in the queue, behind the
// messages queued since (an operator's replay after fixing the cause).
func (db *DB) ReplayFeedMessage(ctx context.Context, id int64) (*model.FeedMessage, error) {
	var out *model.FeedMessage
	err := db.write(ctx, func(tx *Tx) error {
		m, err := scanFeed(tx.queryRow("SELECT "+feedCols+" FROM feed_message WHERE id = ? AND institution_id = ?", id, model.ActorFrom(ctx).InstitutionID))
		if errors.Is(err, sql.ErrNoRows) {
			return model.NotFound("HL7 消息", id)
		} else if err != nil {
			return err
		}
		if m.Status != model.FeedDead {
			return model.Conflict("feed.not_dead", "只有发送失败的消息可以重发 (only a dead message can be replayed)")
		}
		// A new row keeps the order (ids are the queue's order) and the
		// history: the dead row keeps its reason, marked replayed.
		if _, err := tx.exec(`INSERT INTO feed_message (peer, seq, institution_id, patient_id, type, control_id, entity, entity_id, message, status, created_at, next_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)`, m.Peer, m.Seq, m.InstitutionID, m.PatientID, m.Type, fmt.Sprintf("%s-R%d", m.ControlID, m.ID), m.Entity, m.EntityID,
			m.Message, formatTime(tx.now), formatTime(tx.now)); err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE feed_message SET status = 'replayed' WHERE id = ?", id); err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}

// FeedMessages lists messages out of the actor's institution, newest first.
func (db *DB) FeedMessages(ctx context.Context, q model.FeedQuery) ([]*model.FeedMessage, error) {
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	where, args := "institution_id = ?", []any{model.ActorFrom(ctx).InstitutionID}
	if q.Peer != "" {
		where, args = where+" AND peer = ?", append(args, q.Peer)
	}
	if q.Status != "" {
		where, args = where+" AND status = ?", append(args, q.Status)
	}
	rows, err := db.q(ctx).QueryContext(ctx, "SELECT "+feedCols+" FROM feed_message WHERE "+where+" ORDER BY id DESC LIMIT ?", append(args, q.Limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*model.FeedMessage{}
	for rows.Next() {
		m, err := scanFeed(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// FeedFacts loads the rows a message out names (the ids that are not 0),
// as the system.
func (db *DB) FeedFacts(ctx context.Context, institutionID, patientID, slotID, deptID, projectID, staffID, orderID int64) (*model.FeedFacts, error) {
	q := db.q(ctx)
	f := &model.FeedFacts{}
	var err error
	load := func(id int64, fn func() error) {
		if err == nil && id != 0 {
			err = fn()
		}
	}
	load(institutionID, func() (e error) { f.Institution, e = getRow[model.Institution](ctx, q, institutionID); return })
	load(patientID, func() (e error) { f.Patient, e = getRow[model.Patient](ctx, q, patientID); return })
	load(slotID, func() (e error) { f.Slot, e = getRow[model.Slot](ctx, q, slotID); return })
	load(deptID, func() (e error) { f.Dept, e = getRow[model.Department](ctx, q, deptID); return })
	load(projectID, func() (e error) { f.Project, e = getRow[model.Project](ctx, q, projectID); return })
	load(staffID, func() (e error) { f.Staff, e = getRow[model.Staff](ctx, q, staffID); return })
	load(orderID, func() (e error) { f.Order, e = getRow[model.Order](ctx, q, orderID); return })
	return f, err
}
