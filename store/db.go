package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store/engine"
	"github.com/zhiliao/zhiliao/store/postgres"
	"github.com/zhiliao/zhiliao/store/sqlite"
	"github.com/zhiliao/zhiliao/vault"
)

// ErrSchemaOutOfDate is returned by Open when the database has migrations
// pending and Options.Migrate is false.
var ErrSchemaOutOfDate = errors.New("core schema is out of date: run `zhiliao migrate` or start with --migrate")

// Options configure Open.
type Options struct {
	// Migrate applies pending migrations to an existing database. A new, empty
	// database is always migrated: there is nothing in it to protect.
	Migrate bool
	Logger  *slog.Logger
	// FilesDir is where images and signatures live; on SQLite it defaults
	// to files/ beside the database file.
	FilesDir string
	// Master is the master key (vault): it opens the keys of a core whose
	// sensitive fields are sealed, and gives keys to a core that has none.
	// A core with keys does not open without it.
	Master *vault.Master
	// WarehouseNames is masked (the default) or clear: whether patients'
	// names reach the outbox and the warehouse masked. Recorded in the core.
	WarehouseNames string
}

// DB is the core database. Writes go through one connection (SQLite has one
// writer; queueing in Go is cheaper and fairer than busy retries), reads
// through a pool of WAL readers.
type DB struct {
	Path     string
	FilesDir string // images and signatures live below it

	// Now is the clock; a transaction reads it once when it begins.
	Now func() time.Time
	// HIS answers the payment re-check before execution.
	HIS model.PaymentChecker
	// BeforeCommit, when set, runs after all writes of a transaction and
	// before COMMIT; an error rolls everything back. Tests inject faults here.
	BeforeCommit func(ctx context.Context) error
	// DisableOutbox skips outbox rows. Only the benchmark baseline sets it.
	DisableOutbox bool
	// DisablePseudonyms ships payloads as the rows are, identity and all.
	// Only the benchmark baseline sets it (BenchmarkSealed, BenchmarkRelay).
	DisablePseudonyms bool
	// Policy is the password, lockout and session policy.
	Policy AccountPolicy
	// Signers, when set, signs treatment records for their signers (a
	// hospital CA's certificate-backed keys, store.Signers); nil: the
	// core's own SM2 keys, wrapped by the master key.
	Signers Signers

	Logger *slog.Logger

	keyPtr     atomic.Pointer[vault.Keyring] // nil: fields stored in clear (vault.go)
	master     *vault.Master
	clearNames bool
	signers    sync.Map // owner → *vault.SM2Signer, unwrapped once (auditchain.go)

	w, r  *sql.DB
	eng   engine.Engine // what differs between the databases (store/sqlite, store/postgres)
	pools *engine.Pools

	namespace atomic.Int64 // namespace.go
	placed    sync.Map     // table name → its ids are in the namespace (namespace.go)

	// Statements prepared once on the writer connection and on the reader
	// pool. SQLite parses a statement in tens of microseconds, as long as a
	// small transaction takes, so every statement text is prepared once and
	// reused (see Tx.stmt).
	stmtMu      sync.Mutex
	writerStmts map[string]*sql.Stmt
	readerStmts map[string]*sql.Stmt

	writeQ     chan writeReq // the single writer's queue (Engine.SingleWriter)
	writerDone chan struct{}
}

// Open opens the core and checks its schema: the SQLite file at location
// (created if needed), or the PostgreSQL database location names when it is
// a postgres:// DSN.
func Open(ctx context.Context, location string, opt Options) (*DB, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	eng := engineFor(location, opt.Logger)
	pools, err := eng.Open(ctx, location)
	if err != nil {
		return nil, err
	}
	db := &DB{
		Path:     eng.Redact(location),
		FilesDir: cmp.Or(opt.FilesDir, pools.FilesDir),
		Now:      time.Now,
		Policy:   DefaultAccountPolicy,
		Logger:   opt.Logger.With("component", "store", "engine", eng.Name()),
		eng:      eng,
		pools:    pools,
		w:        pools.W,
		r:        pools.R,

		writerStmts: map[string]*sql.Stmt{},
		readerStmts: map[string]*sql.Stmt{},
	}
	if err := db.migrate(ctx, opt.Migrate); err != nil {
		pools.Close()
		return nil, err
	}
	if err := db.loadMeta(ctx); err != nil {
		pools.Close()
		return nil, err
	}
	if err := db.openVault(ctx, opt.Master, opt.WarehouseNames); err != nil {
		pools.Close()
		return nil, err
	}
	if eng.SingleWriter() {
		db.writeQ, db.writerDone = make(chan writeReq), make(chan struct{})
		go db.writer()
	}
	if err := db.sealLeftovers(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.fillDerivedIndexes(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context, force bool) error {
	sub, dialect, opts, err := db.eng.Migrations()
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(dialect, db.w, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if !pending {
		return nil
	}
	if current > 0 && !force {
		return fmt.Errorf("%w (database at version %d)", ErrSchemaOutOfDate, current)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		db.Logger.Info("migration applied", "version", r.Source.Version, "path", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// SchemaVersion returns the applied migration version.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := db.r.QueryRowContext(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&v)
	return v, err
}

// Ping checks that both pools answer.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return err
	}
	return db.r.PingContext(ctx)
}

// Close closes the core: the writer finishes, then the engine's pools close.
func (db *DB) Close() error {
	if db.writeQ != nil {
		close(db.writeQ) // the writer finishes the group it runs, then stops
		<-db.writerDone
		db.writeQ = nil
	}
	db.stmtMu.Lock()
	for _, m := range []map[string]*sql.Stmt{db.writerStmts, db.readerStmts} {
		for q, s := range m {
			s.Close()
			delete(m, q)
		}
	}
	db.stmtMu.Unlock()
	return db.pools.Close()
}

// Reader returns the read-only pool for queries outside the lifecycle
// services (reports, the relay).
func (db *DB) Reader() *sql.DB { return db.r }

// MigrateTo applies migrations up to and including version on the SQLite
// core at path, without opening the services. Operators use it (zhiliao
// migrate --to) to stage upgrades, and tests to build an out-of-date schema.
func MigrateTo(ctx context.Context, path string, version int64) error {
	return sqlite.MigrateTo(ctx, path, version)
}

// writerStmt returns the writer-side prepared statement for query, if any.
func (db *DB) writerStmt(query string) *sql.Stmt {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	return db.writerStmts[query]
}

// prepareWriter prepares queries on the writer connection. It runs after a
// transaction released the connection: while a transaction holds the only
// writer connection, preparing on the pool would wait for it forever.
func (db *DB) prepareWriter(ctx context.Context, queries []string) {
	for _, q := range queries {
		if db.writerStmt(q) != nil {
			continue
		}
		s, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			db.Logger.Warn("prepare", "query", q, "err", err)
			continue
		}
		db.stmtMu.Lock()
		if db.writerStmts[q] == nil {
			db.writerStmts[q] = s
		} else {
			s.Close()
		}
		db.stmtMu.Unlock()
	}
}

// readStmts is the reader pool as a querier with prepared statements.
type readStmts struct{ db *DB }

func (r readStmts) core() *DB { return r.db }

func (r readStmts) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if !r.db.eng.PrepareOnce() {
		return nil, errNoStmt
	}
	r.db.stmtMu.Lock()
	s := r.db.readerStmts[query]
	r.db.stmtMu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := r.db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	r.db.stmtMu.Lock()
	defer r.db.stmtMu.Unlock()
	if old := r.db.readerStmts[query]; old != nil {
		s.Close()
		return old, nil
	}
	r.db.readerStmts[query] = s
	return s, nil
}

func (r readStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := r.stmt(ctx, query)
	if err != nil {
		return r.db.r.QueryRowContext(ctx, r.db.sqlText(query), args...) // PostgreSQL, or reports the same error on Scan
	}
	return s.QueryRowContext(ctx, args...)
}

func (r readStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if !r.db.eng.PrepareOnce() {
		return r.db.r.QueryContext(ctx, r.db.sqlText(query), args...)
	}
	s, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// QueryRowContext runs an ad-hoc read on the reader pool (tools, checks and
// tests), written with ? placeholders on either engine.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.r.QueryRowContext(ctx, db.sqlText(query), args...)
}

// QueryContext is QueryRowContext for several rows.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.r.QueryContext(ctx, db.sqlText(query), args...)
}

// errNoStmt: the engine's driver prepares and caches statements itself.
var errNoStmt = errors.New("the driver prepares statements itself")

// Engine names the core's database: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.eng.Name() }

// LatestSchemaVersion is the version the embedded migrations bring a SQLite
// core to.
func LatestSchemaVersion() int64 { return LatestSchemaVersionOf("sqlite") }

// LatestSchemaVersionOf is the same for an engine, "sqlite" or "postgres":
// each numbers its migrations on its own.
func LatestSchemaVersionOf(name string) int64 {
	var sub fs.FS
	for _, e := range engines(nil) {
		if e.Name() == name {
			sub, _, _, _ = e.Migrations()
		}
	}
	if sub == nil {
		return 0
	}
	entries, _ := fs.ReadDir(sub, ".")
	var latest int64
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// engines are the databases the core runs on.
func engines(log *slog.Logger) []engine.Engine {
	return []engine.Engine{postgres.Engine{}, sqlite.Engine{Logger: log}}
}

// engineFor is the engine of a core's location: the first that takes it.
func engineFor(location string, log *slog.Logger) engine.Engine {
	for _, e := range engines(log) {
		if e.Handles(location) {
			return e
		}
	}
	return sqlite.Engine{Logger: log}
}
