package store

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// Idempotency keys of write requests. A form resubmitted after its response
// was lost (the tablet's Wi-Fi dropped as the record was saved) carries the
// same Idempotency-Key: the claim is inserted in the write's own transaction
// (claimIn, from auditedWrite), so either both the write and the claim
// committed, and the resubmission is answered from the claim, or neither did,
// and the resubmission runs as new. The response is recorded right after;
// a claim whose response was never recorded (the process stopped between
// the commit and the record) says so rather than write a second time.

// IdempotencyTTL is how long a key is remembered.
const IdempotencyTTL = 24 * time.Hour

// claimIn inserts the request's idempotency claim in tx. A claim of the
// same key that committed first makes this transaction a conflict: the
// write is rolled back and the caller answers from the first.
func (tx *Tx) claimIn(c *model.IdempotencyClaim) error {
	_, err := tx.exec("INSERT INTO idempotency_key (principal, key, request_hash, route, created_at) VALUES (?, ?, ?, ?, ?)",
		c.Principal, c.Key, c.RequestHash, c.Route, formatTime(tx.now))
	if model.ErrorRule(mapConstraint("idempotency", err)) == "idempotency.duplicate" {
		return model.Conflict("idempotency.in_progress", "同一请求正在处理或已提交，请刷新查看结果 (a request with this Idempotency-Key committed first)")
	}
	return err
}

// IdempotentResult returns what the core remembers of principal's key: nil
// when nothing (never seen, or older than IdempotencyTTL).
func (db *DB) IdempotentResult(ctx context.Context, principal, key string) (*model.IdempotentResult, error) {
	var r model.IdempotentResult
	var status sql.NullInt64
	err := db.r.QueryRowContext(ctx, db.sqlText("SELECT request_hash, status, body FROM idempotency_key WHERE principal = ? AND key = ? AND created_at >= ?"),
		principal, key, formatTime(db.Now().Add(-IdempotencyTTL))).Scan(&r.RequestHash, &status, &r.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.Status = int(status.Int64)
	return &r, nil
}

// lastPrune is when this process last removed expired keys.
var lastPrune atomic.Int64

// RecordIdempotentResponse stores the response of a committed claim, and
// now and then (hourly per process) forgets keys past IdempotencyTTL.
func (db *DB) RecordIdempotentResponse(ctx context.Context, principal, key string, status int, body []byte) error {
	return db.writeAudited(model.WithPendingAudit(ctx, nil), func(tx *Tx) error {
		if _, err := tx.exec("UPDATE idempotency_key SET status = ?, body = ? WHERE principal = ? AND key = ?", status, body, principal, key); err != nil {
			return err
		}
		if last := lastPrune.Load(); tx.now.Unix()-last >= 3600 && lastPrune.CompareAndSwap(last, tx.now.Unix()) {
			_, err := tx.exec("DELETE FROM idempotency_key WHERE created_at < ?", formatTime(tx.now.Add(-IdempotencyTTL)))
			return err
		}
		return nil
	})
}
