// Package postgres is the core on a PostgreSQL server (engine.Engine), for
// hospitals that run several service instances on one core or need a
// standby database (DESIGN.md §9). The services and their SQL are store's,
// the same as on SQLite; what differs is here:
//
//   - Writes. Every service call runs in its own READ COMMITTED transaction
//     that locks each row it reads (SELECT … FOR UPDATE, ForUpdate), and is
//     retried when the server breaks a deadlock (Retryable). The rules the
//     services check by reading first (slot capacity, one open ticket per
//     course, a payment quantity not yet used) read the row they are about,
//     so two transactions on that row run one after the other, in any
//     process, as every transaction does under SQLite's one writer;
//     transactions on different rows run side by side. SERIALIZABLE was tried
//     first: with its predicate locks on small tables (sequential scans lock
//     the whole relation) 16 clients on different courses and slots aborted
//     each other into 117 transactions/s with a p99 of 2.1 s.
//   - The outbox order. A sequence value is taken before commit, so with
//     concurrent writers seq order is not commit order, and a relay reading
//     seq > checkpoint could pass over an event whose transaction commits
//     later. The relay (one at a time, elected) therefore first gives every
//     committed event without one a position, pos, in one statement, in seq
//     order, and ships by pos (Position). The statement sees exactly the
//     transactions committed before it began; an event of a transaction
//     still in flight gets its position in a later round, after every
//     position given now. No committed event is skipped (it keeps pos NULL
//     until positioned) and none is shipped twice (pos is unique and
//     checkpointed). The order is right where it matters, per row: a
//     transaction that changes a row after another one committed a change to
//     it takes its seq values after that commit, so either the earlier event
//     was positioned in an earlier round or both are in the same round,
//     ordered by seq.
//     We chose this over reading below pg_snapshot_xmin because xid order is
//     not commit order either (a long transaction holds back everything
//     behind it and can still be passed by a later xid that committed
//     first), and over logical decoding (pgoutput) because that needs a
//     replication slot, wal_level=logical and a replication connection on
//     every hospital's server, and a forgotten slot fills the disk.
//   - Errors. Constraint violations arrive as SQLSTATE codes rather than
//     SQLite's messages (Violation).
//   - Several processes. Duties are elected by a session advisory lock
//     (TryLead) and the audit sealer serialised by a transaction one (LockTx).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
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

	"github.com/zhiliao/zhiliao/store/engine"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Engine is PostgreSQL.
type Engine struct{}

var _ engine.Engine = Engine{}

func (Engine) Name() string { return "postgres" }

// Handles reports whether a core location is a PostgreSQL DSN.
func (Engine) Handles(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Redact returns dsn with its password replaced, for messages and logs.
func (Engine) Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Open connects one pool, which serves reads and writes.
func (e Engine) Open(ctx context.Context, dsn string) (*engine.Pools, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("core %s: %w", e.Redact(dsn), err)
	}
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(32)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: 核心库无法连接 %s: %v", engine.ErrUnreachable, e.Redact(dsn), err)
	}
	return &engine.Pools{W: pool, R: pool, Close: pool.Close, FilesDir: "files"}, nil
}

// Migrations: several service instances may start at once; one migrates,
// the others wait on the session lock and then find nothing pending.
func (Engine) Migrations() (fs.FS, goose.Dialect, []goose.ProviderOption, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, "", nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, "", nil, err
	}
	return sub, goose.DialectPostgres, []goose.ProviderOption{goose.WithSessionLocker(locker)}, nil
}

func (Engine) SingleWriter() bool                    { return false }
func (Engine) ForUpdate() string                     { return " FOR UPDATE" }
func (Engine) PrepareOnce() bool                     { return false } // pgx prepares and caches statements per connection itself
func (Engine) PlacesFirstRows() bool                 { return false }
func (Engine) SharedByProcesses() bool               { return true }
func (Engine) ShipColumn() string                    { return "pos" }
func (Engine) SnapshotIsolation() sql.IsolationLevel { return sql.LevelRepeatableRead } // one snapshot for every statement

// Retryable reports a serialization failure or a deadlock: the server
// rolled the transaction back and running it again may succeed.
func (Engine) Retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// rebound caches the PostgreSQL form of each statement text.
var rebound sync.Map // string → string

// Rebind returns query with PostgreSQL's numbered placeholders: the
// services write `?` (or `?N` for an argument used twice). No statement of
// the core has a `?` inside a string literal.
func (Engine) Rebind(query string) string {
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

// Violation reads the SQLSTATE of a constraint violation.
func (Engine) Violation(err error) (engine.Violation, bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return engine.Violation{}, false
	}
	switch pe.Code {
	case "23505":
		return engine.Violation{Kind: "unique", Name: pe.ConstraintName}, true
	case "23514":
		return engine.Violation{Kind: "check", Name: pe.ConstraintName}, true
	case "23503":
		return engine.Violation{Kind: "foreign_key", Name: pe.ConstraintName}, true
	case "P0001":
		if strings.Contains(pe.Message, "record_archived_immutable") {
			return engine.Violation{Kind: "archived"}, true
		}
	}
	return engine.Violation{}, false
}

// NextSeqs takes n values of the outbox sequence, ascending, right before
// the events are inserted (and so after every row change they describe).
func (Engine) NextSeqs(ctx context.Context, tx *sql.Tx, n int) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, "SELECT nextval(pg_get_serial_sequence('cdc_outbox', 'seq')) FROM generate_series(1, $1)", n)
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

// HeadQuery: the last position given plus the committed events still
// waiting for one.
func (Engine) HeadQuery() string {
	return "SELECT (SELECT pos FROM cdc_position WHERE id = 1) + (SELECT count(*) FROM cdc_outbox WHERE pos IS NULL)"
}

// Position gives up to limit committed, unpositioned events their
// commit-ordered position (see the package comment). Only the elected relay
// calls it; the row lock on cdc_position serialises two that overlap anyway.
func (Engine) Position(ctx context.Context, w *sql.DB, limit int) error {
	tx, err := w.BeginTx(ctx, nil) // READ COMMITTED: each statement sees what committed before it
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

// PlaceNamespace restarts the identity columns, the outbox sequence and the
// relay's position above base.
func (Engine) PlaceNamespace(ctx context.Context, tx *sql.Tx, tables []string, base int64) error {
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN id RESTART WITH %d", t, base+1)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('cdc_outbox', 'seq'), %d)", base)); err != nil {
		return err
	}
	// The relay ships by commit-ordered position there: it is the seq the
	// warehouse sees, so it starts in the namespace too.
	_, err := tx.ExecContext(ctx, "UPDATE cdc_position SET pos = $1 WHERE id = 1", base)
	return err
}

// TryLead asks for the session advisory lock key on conn. The server
// releases it the moment that session ends.
func (Engine) TryLead(ctx context.Context, conn *sql.Conn, key int64) (bool, error) {
	var ok bool
	err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok)
	return ok, err
}

// LockTx takes the transaction advisory lock key, released at its end.
func (Engine) LockTx(ctx context.Context, tx *sql.Tx, key int64) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", key)
	return err
}

// BackupTo: the server's own tools back it up.
func (Engine) BackupTo(context.Context, *sql.DB, string) error { return engine.ErrBackupEngine }
