package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// Tx is one write transaction of the core. It carries the time and actor
// captured when it began, the next outbox sequence number, and a cache of
// statements prepared on it. Service methods open one with db.write and pass
// it to small helpers.
type Tx struct {
	tx      *sql.Tx
	db      *DB
	ctx     context.Context
	now     time.Time
	actor   model.Actor
	id      int64 // tx_id: the seq of the transaction's first outbox event
	nextSeq int64
	depth   int
	events  []any // buffered outbox rows, 9 values each, inserted at commit
	stmts   map[string]*sql.Stmt
	fresh   []string // statement texts first seen in this transaction
	// orig holds the column values of rows as read in this transaction, so
	// an update writes only the columns that changed: SQLite rewrites the
	// entries of every index over a column named in SET, changed or not.
	orig map[model.Entity][]any
}

// remember records e's values as read, for update to diff against.
func (tx *Tx) remember(e model.Entity) {
	if tx.orig == nil {
		tx.orig = map[model.Entity][]any{}
	}
	tx.orig[e] = tableOf(e).values(e)
}

type txKey struct{}

// Batch runs fn with one transaction in its context: every service call made
// with that context joins it, each inside its own savepoint, so a refused call
// rolls back alone and the rest commit together. The generator uses it to
// drive the real lifecycle services at bulk speed.
func (db *DB) Batch(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.write(ctx, func(tx *Tx) error { return fn(tx.ctx) })
}

// write runs fn in a transaction: a savepoint of the batch in ctx, or one
// of the writer's group commits. The clock is read once here.
func (db *DB) write(ctx context.Context, fn func(tx *Tx) error) error {
	if a := model.ActorFrom(ctx); policy.ReadOnly(a) {
		return model.Errorf(model.EFORBIDDEN, "角色 %s 只能查看，不能修改 (read-only role)", a.Role)
	}
	return db.writeAudited(ctx, fn)
}

// writeAudited is write without the read-only check, for the few writes a
// read-only role makes to its own account (its password).
func (db *DB) writeAudited(ctx context.Context, fn func(tx *Tx) error) error {
	p := model.PendingAuditFrom(ctx)
	if p != nil {
		fn = auditedWrite(p, fn)
	}
	if tx, ok := ctx.Value(txKey{}).(*Tx); ok && tx.db == db {
		return tx.savepoint(fn)
	}
	err := db.enqueue(ctx, fn)
	if err != nil && p != nil {
		// The line went in the transaction, and the transaction did not commit.
		p.Committed = false
	}
	return err
}

// enqueue runs fn in one of the writer's group commits and waits for it.
func (db *DB) enqueue(ctx context.Context, fn func(tx *Tx) error) error {
	if !db.eng.SingleWriter() {
		return db.writeOwn(ctx, fn) // a transaction of its own on the server (txown.go)
	}
	req := writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case db.writeQ <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.done // once queued it runs: wait for its outcome even if ctx ends
}

// writeReq is one caller's transaction waiting for the writer.
type writeReq struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	done chan error
}

// maxGroup bounds how many queued transactions share one COMMIT.
const maxGroup = 64

// writer owns the single SQLite writer connection. It takes every
// transaction waiting at that moment and runs them one after another, each
// in its own savepoint, under one BEGIN…COMMIT: SQLite allows one writer, so
// concurrent callers queue anyway, and sharing the commit (the WAL write)
// spends the queueing time usefully. A refused transaction rolls back its
// savepoint alone; a failed COMMIT fails every transaction of the group.
func (db *DB) writer() {
	defer close(db.writerDone)
	for first := range db.writeQ {
		group := []writeReq{first}
	drain:
		for len(group) < maxGroup {
			select {
			case r, ok := <-db.writeQ:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		errs := db.commitGroup(group)
		for i, r := range group {
			r.done <- errs[i]
		}
	}
}

func (db *DB) commitGroup(group []writeReq) []error {
	errs := make([]error, len(group))
	fail := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	sqlTx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	tx := &Tx{tx: sqlTx, db: db, stmts: map[string]*sql.Stmt{}}
	tx.ctx = context.WithValue(context.Background(), txKey{}, tx)
	defer func() {
		if len(tx.fresh) > 0 {
			db.prepareWriter(context.Background(), tx.fresh)
		}
	}()
	var last int64
	if err := tx.queryRow(db.eng.HeadQuery()).Scan(&last); err != nil {
		sqlTx.Rollback()
		return fail(fmt.Errorf("read outbox sequence: %w", err))
	}
	tx.nextSeq = last + 1
	ok := 0
	for i, r := range group {
		// Statements run to completion once started: a caller's cancellation
		// must not abort a savepoint's ROLLBACK TO and with it the group.
		tx.ctx = context.WithValue(context.WithoutCancel(r.ctx), txKey{}, tx)
		tx.id = tx.nextSeq // the transaction id is the seq of its first event
		if len(group) == 1 {
			tx.now, tx.actor = db.nowFor(r.ctx).UTC().Truncate(time.Millisecond), model.ActorFrom(r.ctx)
			errs[i] = r.fn(tx)
		} else {
			errs[i] = tx.savepoint(r.fn)
		}
		if errs[i] == nil {
			ok++
		}
	}
	if ok == 0 {
		sqlTx.Rollback()
		return errs
	}
	if err := tx.flushOutbox(); err != nil {
		sqlTx.Rollback()
		return fail(err)
	}
	if db.BeforeCommit != nil {
		if err := db.BeforeCommit(group[0].ctx); err != nil {
			sqlTx.Rollback()
			return fail(err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return errs
}

func (tx *Tx) savepoint(fn func(tx *Tx) error) error {
	tx.depth++
	name := fmt.Sprintf("sp%d", tx.depth)
	defer func() { tx.depth-- }()
	if _, err := tx.exec("SAVEPOINT " + name); err != nil {
		return err
	}
	seq, buffered, now, actor := tx.nextSeq, len(tx.events), tx.now, tx.actor
	tx.now = tx.db.nowFor(tx.ctx).UTC().Truncate(time.Millisecond)
	tx.actor = model.ActorFrom(tx.ctx)
	err := fn(tx)
	tx.now, tx.actor = now, actor
	if err != nil {
		tx.nextSeq, tx.events = seq, tx.events[:buffered]
		if _, rerr := tx.exec("ROLLBACK TO " + name); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	if _, rerr := tx.exec("RELEASE " + name); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// stmt returns query prepared for this transaction: the writer's cached
// statement bound to the transaction, or, the first time a text is seen, a
// statement prepared on the transaction and cached on the writer afterwards.
func (tx *Tx) stmt(query string) (*sql.Stmt, error) {
	if s, ok := tx.stmts[query]; ok {
		return s, nil
	}
	var s *sql.Stmt
	if ds := tx.db.writerStmt(query); ds != nil {
		s = tx.tx.StmtContext(tx.ctx, ds)
	} else {
		var err error
		if s, err = tx.tx.PrepareContext(tx.ctx, query); err != nil {
			return nil, fmt.Errorf("prepare %q: %w", query, err)
		}
		tx.fresh = append(tx.fresh, query)
	}
	tx.stmts[query] = s
	return s, nil
}

func (tx *Tx) exec(query string, args ...any) (sql.Result, error) {
	if !tx.db.eng.PrepareOnce() { // the driver prepares and caches statements per connection itself
		return tx.tx.ExecContext(tx.ctx, tx.db.sqlText(query), args...)
	}
	s, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(tx.ctx, args...)
}

// QueryRowContext and QueryContext make a Tx a querier whose statements are
// prepared once per transaction: a generator batch runs the same few
// statements thousands of times.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.queryRow(query, args...)
}

func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !tx.db.eng.PrepareOnce() {
		return tx.tx.QueryContext(tx.ctx, tx.db.sqlText(query), args...)
	}
	s, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(tx.ctx, args...)
}

func (tx *Tx) queryRow(query string, args ...any) *sql.Row {
	if !tx.db.eng.PrepareOnce() {
		return tx.tx.QueryRowContext(tx.ctx, tx.db.sqlText(query), args...)
	}
	s, err := tx.stmt(query)
	if err != nil {
		return tx.tx.QueryRowContext(tx.ctx, query, args...) // surfaces the same error on Scan
	}
	return s.QueryRowContext(tx.ctx, args...)
}

// outboxBatch is how many events one INSERT carries (9 parameters each,
// well under SQLite's 32766).
const outboxBatch = 256

// emit buffers the CDC event of e's current row; flushOutbox writes the
// transaction's events with as few INSERTs as possible right before COMMIT.
func (tx *Tx) emit(e model.Entity, op string) error {
	if tx.db.DisableOutbox {
		return nil
	}
	payload, err := tx.db.payload(e)
	if err != nil {
		return err
	}
	m := model.GetMeta(e)
	tx.events = append(tx.events, tx.nextSeq, e.EntityName(), m.ID, op, m.Version, formatTime(tx.now), tx.id, m.InstitutionID, payload)
	tx.nextSeq++
	return nil
}

func (tx *Tx) flushOutbox() error {
	if !tx.db.eng.SingleWriter() && len(tx.events) > 0 {
		seqs, err := tx.db.eng.NextSeqs(tx.ctx, tx.tx, len(tx.events)/9)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		for i, s := range seqs {
			tx.events[i*9] = s
		}
	}
	for len(tx.events) > 0 {
		n := min(len(tx.events)/9, outboxBatch)
		if _, err := tx.exec(outboxInsertSQL(n), tx.events[:n*9]...); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		tx.events = tx.events[n*9:]
	}
	return nil
}

var outboxInserts sync.Map // n → SQL

func outboxInsertSQL(n int) string {
	if q, ok := outboxInserts.Load(n); ok {
		return q.(string)
	}
	q := "INSERT INTO cdc_outbox (seq, entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload) VALUES " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")
	outboxInserts.Store(n, q)
	return q
}

const historyInsert = `INSERT INTO status_history (institution_id, entity, entity_id, from_status, to_status, at, actor_id, actor_role, reason, tx_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (tx *Tx) history(e model.Stateful, from, reason string) error {
	m := model.GetMeta(e)
	actorID := tx.actor.StaffID
	if actorID == 0 {
		actorID = tx.actor.UserID
	}
	_, err := tx.exec(historyInsert, m.InstitutionID, e.EntityName(), m.ID, from, e.CurrentStatus(),
		formatTime(tx.now), actorID, tx.actor.Role, reason, tx.id)
	return err
}

// insert writes a new row of e with version 1, its creation event and, for a
// stateful entity, its first status-history row.
func (tx *Tx) insert(e model.Entity) error {
	tb := tableOf(e)
	m := model.GetMeta(e)
	_, isInstitution := e.(*model.Institution)
	if m.InstitutionID <= 0 && !isInstitution {
		return model.Invalid("institution_id", "缺少所属医疗机构 (institution_id required)")
	}
	if err := checkScope(tx.actor, e); err != nil {
		return err
	}
	if err := checkWriter(tx.actor, e); err != nil {
		return err
	}
	m.Version, m.CreatedAt, m.UpdatedAt = 1, tx.now, tx.now
	s, isStateful := e.(model.Stateful)
	if isStateful && s.CurrentStatus() == "" {
		s.SetStatus(model.InitialStatus[e.EntityName()])
	}
	vals := tb.values(e)
	stored, bidx := tx.db.sealValues(tb, vals)
	args := stored
	if len(tb.sealed) > 0 {
		args = append(args[:len(args):len(args)], blindArgs(tb, bidx)...)
	}
	var first int64
	var err error
	if p := partitionFrom(tx.ctx); p != nil {
		first = p.number(tb.name) // the partition's own range (partition.go)
	} else if first, err = tx.firstID(tb); err != nil {
		return err
	}
	if first == 0 {
		err = tx.queryRow(tb.insertSQL, args...).Scan(&m.ID)
	} else {
		err = tx.queryRow(tb.insertWithIDSQL, append([]any{first}, args...)...).Scan(&m.ID)
	}
	if err != nil {
		return mapConstraint(e.EntityName(), err)
	}
	if tx.orig == nil {
		tx.orig = map[model.Entity][]any{}
	}
	tx.orig[e] = vals
	if isInstitution && m.InstitutionID == 0 {
		// An institution belongs to itself; its id is known only now.
		m.InstitutionID = m.ID
		if _, err := tx.exec("UPDATE institution SET institution_id = id WHERE id = ?", m.ID); err != nil {
			return err
		}
	}
	if isStateful {
		if err := tx.history(s, "", "create"); err != nil {
			return err
		}
	}
	return tx.emit(e, model.OpCreate)
}

// update writes e's row back with the version raised by one: the columns
// that changed since the row was read in this transaction, or all of them.
// The WHERE on the old version catches a row changed since it was read.
func (tx *Tx) update(e model.Entity) error {
	if err := checkWriter(tx.actor, e); err != nil {
		return err
	}
	tb := tableOf(e)
	m := model.GetMeta(e)
	old := m.Version
	m.Version++
	m.UpdatedAt = tx.now
	cur := tb.values(e)
	stored, bidx := tx.db.sealValues(tb, cur)
	query, args := tb.updateSQL, append(append([]any(nil), stored...), m.ID, old)
	prev, ok := tx.orig[e]
	if ok {
		query, args = tb.partialUpdate(prev, cur, stored, m.ID, old)
		if bidx != nil && !sealedChanged(tb, prev, cur) {
			bidx = nil
		}
	}
	res, err := tx.exec(query, args...)
	if err != nil {
		m.Version = old
		return mapConstraint(e.EntityName(), err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		m.Version = old
		err := model.Conflict(e.EntityName()+".stale", "%s已被他人修改，请刷新后重试 (changed concurrently)", model.EntityLabel(e.EntityName()))
		if !tx.db.eng.SingleWriter() {
			// The row was read in this transaction and changed by another
			// one since (a catalogue row is read without a lock): run the
			// whole transaction again, as SQLite's one writer would have
			// run it after the other (store/postgres).
			return staleRetry{err}
		}
		return err
	}
	if err := tx.setBlindIndex(tb, m.ID, bidx); err != nil {
		return err
	}
	tx.orig[e] = cur
	return tx.emit(e, model.OpUpdate)
}

// sealedChanged reports whether an update changes a sealed column (whose
// blind index must then be written again).
func sealedChanged(tb *table, prev, cur []any) bool {
	for _, i := range tb.sealed {
		if prev[i-1] != cur[i-1] {
			return true
		}
	}
	return false
}

// transition moves e to status `to` if the lifecycle allows it, then updates
// the row and appends the status history.
func (tx *Tx) transition(e model.Stateful, to, reason string) error {
	from := e.CurrentStatus()
	if err := model.CheckTransition(e.EntityName(), from, to); err != nil {
		return err
	}
	e.SetStatus(to)
	if err := tx.update(e); err != nil {
		e.SetStatus(from)
		return err
	}
	return tx.history(e, from, reason)
}

// querier is what reads need: a transaction or the reader pool.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	core() *DB // whose keys open the sealed columns read (vault.go)
}

func (tx *Tx) core() *DB { return tx.db }

// q returns the ambient transaction of ctx, if any, or the reader pool, so a
// read inside a batch sees the batch's own writes.
func (db *DB) q(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{}).(*Tx); ok && tx.db == db {
		return tx
	}
	return readStmts{db}
}

// forUpdate locks the lifecycle rows a write transaction reads, on
// PostgreSQL. A service reads the row its rule is about (the slot for
// capacity, the course for its open tickets, the order for its unused
// quantity) before writing, so concurrent transactions on the same row queue
// at that read, in any process, and each sees the row as the one before it
// committed it: the serial order SQLite's one writer gives, per row instead
// of for the whole database (store/postgres). Catalogue rows (the hospital, its
// departments, staff, rooms, projects and patients) are read by nearly
// every transaction and changed almost never: locking them would queue every
// booking of a project behind the others and deadlock transactions that read
// them in different orders, so they stay unlocked and their rare changes
// are caught by the version check of update.
func forUpdate(q querier, tb *table) string {
	if tx, ok := q.(*Tx); ok && !catalogue[tb.entity] && tb.entity != "patient" {
		return tx.db.eng.ForUpdate()
	}
	return ""
}

// getRow loads one row of T by id.
func getRow[T any, PT interface {
	*T
	model.Entity
}](ctx context.Context, q querier, id int64) (PT, error) {
	return findRow[T, PT](ctx, q, "id = ?", id)
}

// findRow loads the one row of T matching where, or a not-found error.
func findRow[T any, PT interface {
	*T
	model.Entity
}](ctx context.Context, q querier, where string, args ...any) (PT, error) {
	e := PT(new(T))
	tb := tableOf(e)
	row := q.QueryRowContext(ctx, tb.selectSQL+" WHERE "+where+forUpdate(q, tb), args...)
	if err := tb.scan(row, e); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, model.NotFound(model.EntityLabel(e.EntityName()), fmt.Sprint(args...))
		}
		return nil, err
	}
	q.core().unseal(tb, e)
	if tx, ok := q.(*Tx); ok {
		tx.remember(e)
	}
	return e, nil
}

// listRows loads every row of T matching where (which may carry ORDER BY).
func listRows[T any, PT interface {
	*T
	model.Entity
}](ctx context.Context, q querier, where string, args ...any) ([]PT, error) {
	tb := tableOf(PT(new(T)))
	rows, err := q.QueryContext(ctx, tb.selectSQL+" WHERE "+where+forUpdate(q, tb), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PT
	for rows.Next() {
		e := PT(new(T))
		if err := tb.scan(rows, e); err != nil {
			return nil, err
		}
		q.core().unseal(tb, e)
		if tx, ok := q.(*Tx); ok {
			tx.remember(e)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// get loads a row inside the transaction.
func get[T any, PT interface {
	*T
	model.Entity
}](tx *Tx, id int64) (PT, error) {
	e := PT(new(T))
	tb := tableOf(e)
	if err := tb.scan(tx.queryRow(tb.selectSQL+" WHERE id = ?"+forUpdate(tx, tb), id), e); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, model.NotFound(model.EntityLabel(e.EntityName()), id)
		}
		return nil, err
	}
	tx.db.unseal(tb, e)
	if err := checkScope(tx.actor, e); err != nil {
		return nil, err
	}
	tx.remember(e)
	return e, nil
}
