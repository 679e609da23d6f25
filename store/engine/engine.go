// Package engine is the contract between the core's services (package
// store) and the databases they run on (store/sqlite, store/postgres): the
// Engine interface and the few values it passes. It holds no code of
// either; it is where both meet without importing each other.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// ErrUnreachable is a core database server that does not answer.
var ErrUnreachable = errors.New("core database unreachable")

// ErrBackupEngine: a core on a database server is backed up with the
// server's own tools (pg_basebackup, pg_dump), as the README's drill says.
var ErrBackupEngine = errors.New("核心库在 PostgreSQL 上：请用 pg_basebackup 或 pg_dump 备份 (README: 备份与恢复)")

// Engine is the database the core runs on. The services, their SQL (written
// with ? placeholders in the part of SQL both engines share) and the
// transaction scheme are store's; everything that differs between the
// embedded SQLite core and a PostgreSQL server is an Engine: store/sqlite and
// store/postgres. Open chooses one by the core's location. The contract suite
// store/storetest runs every service test on each.
type Engine interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Handles reports whether location (a file path or a DSN) is this
	// engine's, and Redact shows it without secrets, for messages and logs.
	Handles(location string) bool
	Redact(location string) string
	// Open connects to the core at location. The error for a server that does
	// not answer wraps ErrUnreachable.
	Open(ctx context.Context, location string) (*Pools, error)
	// Migrations are the engine's own, numbered on their own, with the goose
	// dialect and options (a lock when several processes may migrate at once).
	Migrations() (fs.FS, goose.Dialect, []goose.ProviderOption, error)

	// SingleWriter: writes go through the one writer connection, queued in
	// store and sharing commits (SQLite). Otherwise every write is a
	// transaction of its own, run again from the start when Retryable says
	// the server aborted it (PostgreSQL's deadlocks and serialization
	// failures), and the rows a write reads are locked with ForUpdate.
	SingleWriter() bool
	Retryable(err error) bool
	ForUpdate() string
	// Rebind turns the services' ? placeholders into the engine's.
	Rebind(query string) string
	// PrepareOnce: store prepares every statement text once and reuses it;
	// otherwise the driver caches prepared statements itself.
	PrepareOnce() bool
	// Violation classifies a constraint violation, so that store turns it
	// into a domain error.
	Violation(err error) (Violation, bool)

	// NextSeqs takes n outbox sequence values before commit, ascending; nil
	// when the single writer numbers events itself from HeadQuery.
	NextSeqs(ctx context.Context, tx *sql.Tx, n int) ([]int64, error)
	// HeadQuery reads the last committed position of the outbox.
	HeadQuery() string
	// ShipColumn is the outbox column that orders events for the relay and
	// the checkpoint: seq where seq order is commit order, or the position
	// Position gives committed events.
	ShipColumn() string
	// Position gives up to limit committed events their commit-ordered
	// position (a no-op where seq order is commit order).
	Position(ctx context.Context, w *sql.DB, limit int) error
	// PlaceNamespace moves the core's ids and seqs into the namespace
	// starting above base, inside tx, for tables; PlacesFirstRows means the
	// engine cannot restart ids and store places each table's first row.
	PlaceNamespace(ctx context.Context, tx *sql.Tx, tables []string, base int64) error
	PlacesFirstRows() bool

	// SharedByProcesses: several processes may open the core at once, so
	// duties are elected with TryLead and serialised with LockTx.
	SharedByProcesses() bool
	TryLead(ctx context.Context, conn *sql.Conn, key int64) (bool, error)
	LockTx(ctx context.Context, tx *sql.Tx, key int64) error
	// SnapshotIsolation is the isolation of a read that must see one snapshot.
	SnapshotIsolation() sql.IsolationLevel
	// BackupTo writes a consistent copy of the core to the file path while
	// writers go on; ErrBackupEngine where the server's own tools do it.
	BackupTo(ctx context.Context, r *sql.DB, path string) error
}

// Pools are an open core's connections: writes go through W, reads through
// R (the same pool where the engine has no separate readers). Close closes
// them and whatever the engine runs beside them.
type Pools struct {
	W, R  *sql.DB
	Close func() error
	// FilesDir is where images and signatures live by default.
	FilesDir string
}

// Violation is a constraint the database refused a write by.
type Violation struct {
	Kind string // "unique", "check", "foreign_key" or "archived" (an archived record is immutable)
	Name string // the constraint or its columns, as the database names it
}
