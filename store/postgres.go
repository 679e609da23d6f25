package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/zhiliao/zhiliao/model"
)

// The core on PostgreSQL (DESIGN.md §9). The services and their SQL are the
// same as on SQLite; what differs is here:
//
//   - Writes. Every service call runs in its own READ COMMITTED transaction
//     that locks each row it reads (SELECT … FOR UPDATE, see forUpdate), and
//     is retried when the server breaks a deadlock. The rules the services
//     check by reading first (slot capacity, one open ticket per course, a
//     payment quantity not yet used) read the row they are about, so two
//     transactions on that row run one after the other, in any process, as
//     every transaction does under SQLite's one writer; transactions on
//     different rows run side by side. SERIALIZABLE was tried first: with its
//     predicate locks on small tables (sequential scans lock the whole
//     relation) 16 clients on different courses and slots aborted each other
//     into 117 transactions/s with a p99 of 2.1 s.
//   - The outbox order. A sequence value is taken before commit, so with
//     concurrent writers seq order is not commit order, and a relay reading
//     seq > checkpoint could pass over an event whose transaction commits
//     later. The relay (one at a time, elected) therefore first gives every
//     committed event without one a position, pos, in one statement, in seq
//     order, and ships by pos. The statement sees exactly the transactions
//     committed before it began; an event of a transaction still in flight
//     gets its position in a later round, after every position given now. No
//     committed event is skipped (it keeps pos NULL until positioned) and
//     none is shipped twice (pos is unique and checkpointed). The order is
//     right where it matters, per row: a transaction that changes a row after
//     another one committed a change to it takes its seq values after that
//     commit, so either the earlier event was positioned in an earlier round
//     or both are in the same round, ordered by seq.
//     We chose this over reading below pg_snapshot_xmin because xid order is
//     not commit order either (a long transaction holds back everything
//     behind it and can still be passed by a later xid that committed
//     first), and over logical decoding (pgoutput) because that needs a
//     replication slot, wal_level=logical and a replication connection on
//     every hospital's server, and a forgotten slot fills the disk.
//   - Errors. Constraint violations arrive as SQLSTATE codes rather than
//     SQLite's messages; mapConstraint reads both.

// ErrUnreachable is a core database server that does not answer.
var ErrUnreachable = errors.New("core database unreachable")

// IsPostgres reports whether a core location is a PostgreSQL DSN rather than
// a SQLite file.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// RedactDSN returns dsn with its password replaced, for messages and logs.
func RedactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func openPostgres(ctx context.Context, dsn string, opt Options) (*DB, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("core %s: %w", RedactDSN(dsn), err)
	}
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(32)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: 核心库无法连接 %s: %v", ErrUnreachable, RedactDSN(dsn), err)
	}
	db := &DB{
		Path:     RedactDSN(dsn),
		FilesDir: opt.FilesDir,
		Now:      time.Now,
		Policy:   DefaultAccountPolicy,
		Logger:   opt.Logger.With("component", "store", "engine", "postgres"),
		pg:       true,
		w:        pool,
		r:        pool,
	}
	if db.FilesDir == "" {
		db.FilesDir = "files"
	}
	if err := db.migrate(ctx, opt.Migrate); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.loadMeta(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.openVault(ctx, opt.Master, opt.WarehouseNames); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.sealLeftovers(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// migrationsOf returns the engine's migrations and goose dialect.
func (db *DB) migrationsOf() (fs.FS, goose.Dialect, []goose.ProviderOption, error) {
	if !db.pg {
		sub, err := fs.Sub(migrationFS, "migrations/sqlite")
		return sub, goose.DialectSQLite3, nil, err
	}
	sub, err := fs.Sub(migrationFS, "migrations/postgres")
	if err != nil {
		return nil, "", nil, err
	}
	// Several service instances may start at once: one migrates, the others
	// wait on the session lock and then find nothing pending.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, "", nil, err
	}
	return sub, goose.DialectPostgres, []goose.ProviderOption{goose.WithSessionLocker(locker)}, nil
}

// rebound caches the PostgreSQL form of each statement text.
var rebound sync.Map // string → string

// sqlText returns query in the engine's placeholder style: the services
// write `?` (or `?N` for an argument used twice); PostgreSQL numbers them. No statement of the core has a `?`
// inside a string literal.
func (db *DB) sqlText(query string) string {
	if !db.pg {
		return query
	}
	if q, ok := rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		b.WriteByte('$')
		if i+1 < len(query) && query[i+1] >= '0' && query[i+1] <= '9' {
			continue // ?NNN, SQLite's numbered form, is $NNN
		}
		n++
		b.WriteString(strconv.Itoa(n))
	}
	q := b.String()
	rebound.Store(query, q)
	return q
}

// maxAttempts bounds how often a write is retried after a serialization
// failure before the caller gets a conflict.
const maxAttempts = 20

// writePostgres runs fn in its own transaction, retrying it from the start
// when the server aborts it (a deadlock between row locks, or a
// serialization failure).
func (db *DB) writePostgres(ctx context.Context, fn func(tx *Tx) error) error {
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
		err := db.writePostgresOnce(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
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

func (db *DB) writePostgresOnce(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.w.BeginTx(ctx, nil) // READ COMMITTED; the rows read are locked (forUpdate)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, db: db}
	tx.ctx = context.WithValue(context.WithoutCancel(ctx), txKey{}, tx)
	tx.now, tx.actor = db.Now().UTC().Truncate(time.Millisecond), model.ActorFrom(ctx)
	// The transaction id is a value of the outbox sequence no event uses.
	if err := sqlTx.QueryRowContext(tx.ctx, "SELECT nextval(pg_get_serial_sequence('cdc_outbox', 'seq'))").Scan(&tx.id); err != nil {
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

// retryable reports a serialization failure or a deadlock: the server
// rolled the transaction back and running it again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	var stale staleRetry
	return errors.As(err, &stale) || errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// staleRetry is a version conflict on a row this transaction read: worth
// running the transaction again. Callers see the conflict inside it if the
// retries run out.
type staleRetry struct{ error }

func (s staleRetry) Unwrap() error { return s.error }

// reserveSeqs takes n values of the outbox sequence, ascending, right before
// the events are inserted (and so after every row change they describe).
func (tx *Tx) reserveSeqs(n int) ([]int64, error) {
	rows, err := tx.tx.QueryContext(tx.ctx, "SELECT nextval(pg_get_serial_sequence('cdc_outbox', 'seq')) FROM generate_series(1, $1)", n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]int64, 0, n)
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(out) // one statement's nextval calls ascend already; sorted, the order holds whatever the plan
	return out, nil
}

// positionOutbox gives up to limit committed, unpositioned events their
// commit-ordered position (see the top of this file). Only the elected relay
// calls it; the row lock on cdc_position serialises two that overlap anyway.
func (db *DB) positionOutbox(ctx context.Context, limit int) error {
	tx, err := db.w.BeginTx(ctx, nil) // READ COMMITTED: each statement sees what committed before it
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var base int64
	if err := tx.QueryRowContext(ctx, "SELECT pos FROM cdc_position WHERE id = 1 FOR UPDATE").Scan(&base); err != nil {
		return err
	}
	var n int64
	if err := tx.QueryRowContext(ctx, `WITH next AS (
  SELECT seq, $1::bigint + row_number() OVER (ORDER BY seq) AS pos
  FROM (SELECT seq FROM cdc_outbox WHERE pos IS NULL ORDER BY seq LIMIT $2) unpositioned)
, done AS (UPDATE cdc_outbox o SET pos = next.pos FROM next WHERE o.seq = next.seq RETURNING 1)
SELECT count(*) FROM done`, base, limit).Scan(&n); err != nil {
		return fmt.Errorf("position outbox: %w", err)
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "UPDATE cdc_position SET pos = $1 WHERE id = 1", base+n); err != nil {
		return err
	}
	return tx.Commit()
}

// mapPostgres turns a PostgreSQL constraint violation into a domain error,
// as mapConstraint does for SQLite's messages.
func mapPostgres(entity string, pe *pgconn.PgError) error {
	switch pe.Code {
	case "23505":
		return model.Conflict(entity+".duplicate", "%s重复 (duplicate %s)", model.EntityLabel(entity), pe.ConstraintName)
	case "23514":
		name := strings.TrimPrefix(pe.ConstraintName, TableName(entity)+"_")
		return model.Conflict(entity+"."+name, "%s违反规则 %s (constraint %s)", model.EntityLabel(entity), name, name)
	case "23503":
		return model.Invalid(entity, "%s引用的记录不存在 (dangling reference)", model.EntityLabel(entity))
	case "P0001":
		if strings.Contains(pe.Message, "record_archived_immutable") {
			return model.Conflict("record.archived_immutable", "治疗记录已归档，不能修改 (archived records are locked)")
		}
	}
	return pe
}

// sequenceNumber is a number no other transaction gets: on SQLite the seq
// the transaction's next event will have (one writer numbers them), on
// PostgreSQL a value of the outbox sequence taken now.
func (tx *Tx) sequenceNumber() (int64, error) {
	if !tx.db.pg {
		return tx.nextSeq, nil
	}
	var n int64
	err := tx.tx.QueryRowContext(tx.ctx, "SELECT nextval(pg_get_serial_sequence('cdc_outbox', 'seq'))").Scan(&n)
	return n, err
}
