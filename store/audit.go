package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/zhiliao/zhiliao/model"
)

// The audit log is written synchronously and never from a queue in memory,
// so that no acknowledged request can lose its line in a crash:
//   - a write's line is inserted in the write's own transaction (see
//     auditedWrite), committed with it or rolled back with it;
//   - any other line (a refused write, a read of patient data, a login) is
//     committed through the writer before Audit returns, and the API calls
//     it before the response's first byte.
// Both ride the writer's group commit, so a line costs an INSERT, not a
// commit of its own.

const auditInsertSQL = `INSERT INTO audit_log (at, institution_id, user_id, username, role, action, route, entity, entity_id, status, request_id, remote, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (tx *Tx) auditLine(a model.Actor, e model.AuditEntry) error {
	if a.Role == model.RolePatient && a.Username == "" {
		a.Username = fmt.Sprintf("patient:%d", a.PatientID) // link holders have no account name
	}
	_, err := tx.exec(auditInsertSQL, formatTime(tx.now), a.InstitutionID, a.UserID, a.Username, a.Role, e.Action, e.Route,
		e.Entity, e.EntityID, e.Status, e.RequestID, e.Remote, e.Detail)
	return err
}

// Audit commits one audit line for the context's actor before it returns.
// Unlike the lifecycle writes it is allowed to read-only roles: an
// evaluator's reads and refused writes are audited too.
func (db *DB) Audit(ctx context.Context, e model.AuditEntry) error {
	fn := func(tx *Tx) error { return tx.auditLine(model.ActorFrom(tx.ctx), e) }
	if tx, ok := ctx.Value(txKey{}).(*Tx); ok && tx.db == db {
		return tx.savepoint(fn)
	}
	return db.enqueue(ctx, fn)
}

// auditedWrite wraps a write transaction of a request that carries a pending
// audit line (model.WithPendingAudit): once fn has succeeded, the line is
// inserted in the same transaction, naming the first row of the audited
// entity that fn created or changed when the request named none.
func auditedWrite(p *model.PendingAudit, fn func(tx *Tx) error) func(tx *Tx) error {
	return func(tx *Tx) error {
		from := len(tx.events)
		if err := fn(tx); err != nil {
			return err
		}
		if p.Committed {
			return nil // a second write of the same request: the line is in the first
		}
		e := p.Entry
		if e.EntityID == "" {
			for i := from; i+9 <= len(tx.events); i += 9 {
				if tx.events[i+1] == e.Entity {
					e.EntityID = strconv.FormatInt(tx.events[i+2].(int64), 10)
					break
				}
			}
		}
		if err := tx.auditLine(tx.actor, e); err != nil {
			return err
		}
		if p.Claim != nil {
			if err := tx.claimIn(p.Claim); err != nil {
				return err
			}
		}
		p.Entry.EntityID, p.Committed = e.EntityID, true
		return nil
	}
}
