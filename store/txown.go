package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store/engine"
	"github.com/zhiliao/zhiliao/store/postgres"
)

// Writes on an engine without a single writer (PostgreSQL, store/postgres):
// every service call is a transaction of its own on the server, run again
// from the start when the server aborts it. store/postgres says why the
// transactions are READ COMMITTED with their rows locked, and how the
// outbox keeps commit order.

// ErrUnreachable is a core database server that does not answer.
var ErrUnreachable = engine.ErrUnreachable

// ErrBackupEngine: the PostgreSQL core is backed up with the server's own
// tools (pg_basebackup, pg_dump), as the README's drill says.
var ErrBackupEngine = engine.ErrBackupEngine

// IsPostgres reports whether a core location is a PostgreSQL DSN rather than
// a SQLite file.
func IsPostgres(location string) bool { return postgres.Engine{}.Handles(location) }

// RedactDSN returns dsn with its password replaced, for messages and logs.
func RedactDSN(dsn string) string { return postgres.Engine{}.Redact(dsn) }

// sqlText returns query in the engine's placeholder style.
func (db *DB) sqlText(query string) string { return db.eng.Rebind(query) }

// maxAttempts bounds how often a write is retried after a serialization
// failure before the caller gets a conflict.
const maxAttempts = 20

// writePostgres runs fn in its own transaction, retrying it from the start
// when the server aborts it (a deadlock between row locks, or a
// serialization failure).
func (db *DB) writeOwn(ctx context.Context, fn func(tx *Tx) error) error {
	// A retried attempt starts from the request's audit state as it was:
	// the line the failed attempt wrote was rolled back with it.
	var pending model.PendingAudit
	p := model.PendingAuditFrom(ctx)
	if p != nil {
		pending = *p
	}
	for attempt := 1; ; attempt++ {
		if p != nil {
			*p = pending
		}
		err := db.writeOwnOnce(ctx, fn)
		if err == nil || !db.retryable(err) {
			return err
		}
		db.Logger.Debug("write retried", "attempt", attempt, "err", err)
		if attempt == maxAttempts {
			var stale staleRetry
			if errors.As(err, &stale) {
				return stale.error
			}
			return model.Conflict("core.busy", "并发修改过多，请稍后重试 (too many concurrent changes, retry later): %v", err)
		}
		// Jittered backoff: the transactions that collided retry apart.
		d := time.Duration(attempt*attempt) * time.Millisecond * time.Duration(1+rand.IntN(4))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (db *DB) writeOwnOnce(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.w.BeginTx(ctx, nil) // READ COMMITTED; the rows read are locked (forUpdate)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, db: db}
	tx.ctx = context.WithValue(context.WithoutCancel(ctx), txKey{}, tx)
	tx.now, tx.actor = db.nowFor(ctx).UTC().Truncate(time.Millisecond), model.ActorFrom(ctx)
	// The transaction id is a value of the outbox sequence no event uses.
	if tx.id, err = tx.sequenceNumber(); err != nil {
		sqlTx.Rollback()
		return fmt.Errorf("transaction id: %w", err)
	}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := tx.flushOutbox(); err != nil {
		sqlTx.Rollback()
		return err
	}
	if db.BeforeCommit != nil {
		if err := db.BeforeCommit(ctx); err != nil {
			sqlTx.Rollback()
			return err
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// retryable reports a transaction worth running again: the server rolled it
// back (a deadlock, a serialization failure), or a row it read unlocked
// changed under it.
func (db *DB) retryable(err error) bool {
	var stale staleRetry
	return errors.As(err, &stale) || db.eng.Retryable(err)
}

// staleRetry is a version conflict on a row this transaction read: worth
// running the transaction again. Callers see the conflict inside it if the
// retries run out.
type staleRetry struct{ error }

func (s staleRetry) Unwrap() error { return s.error }

// sequenceNumber is a number no other transaction gets: with a single
// writer the seq the transaction's next event will have (it numbers them),
// otherwise a value of the outbox sequence taken now.
func (tx *Tx) sequenceNumber() (int64, error) {
	if tx.db.eng.SingleWriter() {
		return tx.nextSeq, nil
	}
	seqs, err := tx.db.eng.NextSeqs(tx.ctx, tx.tx, 1)
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// mapViolation turns a constraint violation the engine recognises into a
// domain error, or returns err.
func mapViolation(eng engine.Engine, entity string, err error) error {
	v, ok := eng.Violation(err)
	if !ok {
		return err
	}
	switch v.Kind {
	case "archived":
		return model.Conflict("record.archived_immutable", "治疗记录已归档，不能修改 (archived records are locked)")
	case "unique":
		return model.Conflict(entity+".duplicate", "%s重复 (duplicate %s)", model.EntityLabel(entity), v.Name)
	case "check":
		name := strings.TrimPrefix(v.Name, TableName(entity)+"_")
		return model.Conflict(entity+"."+name, "%s违反规则 %s (constraint %s)", model.EntityLabel(entity), name, name)
	case "foreign_key":
		return model.Invalid(entity, "%s引用的记录不存在 (dangling reference)", model.EntityLabel(entity))
	}
	return err
}
