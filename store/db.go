package store

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/vault"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

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

	Logger *slog.Logger

	keyPtr     atomic.Pointer[vault.Keyring] // nil: fields stored in clear (vault.go)
	master     *vault.Master
	clearNames bool
	signers    sync.Map // owner → *vault.SM2Signer, unwrapped once (auditchain.go)

	w, r *sql.DB
	pg   bool // the core is on PostgreSQL (postgres.go); otherwise SQLite

	namespace atomic.Int64 // namespace.go
	placed    sync.Map     // table name → its ids are in the namespace (namespace.go)

	// Statements prepared once on the writer connection and on the reader
	// pool. SQLite parses a statement in tens of microseconds, as long as a
	// small transaction takes, so every statement text is prepared once and
	// reused (see Tx.stmt).
	stmtMu      sync.Mutex
	writerStmts map[string]*sql.Stmt
	readerStmts map[string]*sql.Stmt

	writeQ     chan writeReq
	writerDone chan struct{}

	ckpt     *sql.DB // checkpoints the WAL off the writer's path
	ckptStop chan struct{}
	ckptDone chan struct{}
}

// Open opens the core and checks its schema: the SQLite file at path
// (created if needed), or the PostgreSQL database path names when it is a
// postgres:// DSN.
func Open(ctx context.Context, path string, opt Options) (*DB, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if IsPostgres(path) {
		return openPostgres(ctx, path, opt)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)" +
		"&_pragma=busy_timeout(10000)&_pragma=cache_size(-262144)&_pragma=mmap_size(1073741824)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	db := &DB{
		Path:     path,
		FilesDir: cmp.Or(opt.FilesDir, filepath.Join(filepath.Dir(path), "files")),
		Now:      time.Now,
		Policy:   DefaultAccountPolicy,
		Logger:   opt.Logger.With("component", "store"),

		writerStmts: map[string]*sql.Stmt{},
		readerStmts: map[string]*sql.Stmt{},
	}
	var err error
	if db.w, err = sql.Open("sqlite", dsn); err != nil {
		return nil, err
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetConnMaxIdleTime(0)
	if db.r, err = sql.Open("sqlite", dsn+"&mode=ro"); err != nil {
		db.w.Close()
		return nil, err
	}
	db.r.SetMaxOpenConns(8)
	if err := db.migrate(ctx, opt.Migrate); err != nil {
		db.r.Close()
		db.w.Close()
		return nil, err
	}
	if err := db.loadMeta(ctx); err != nil {
		db.r.Close()
		db.w.Close()
		return nil, err
	}
	if err := db.openVault(ctx, opt.Master, opt.WarehouseNames); err != nil {
		db.r.Close()
		db.w.Close()
		return nil, err
	}
	db.writeQ, db.writerDone = make(chan writeReq), make(chan struct{})
	go db.writer()
	if db.ckpt, err = sql.Open("sqlite", dsn); err != nil {
		db.Close()
		return nil, err
	}
	db.ckpt.SetMaxOpenConns(1)
	db.ckptStop, db.ckptDone = make(chan struct{}), make(chan struct{})
	go db.checkpointer()
	if err := db.sealLeftovers(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context, force bool) error {
	sub, dialect, opts, err := db.migrationsOf()
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

// Close closes both pools.
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
	if db.pg {
		return db.w.Close() // one pool serves reads and writes
	}
	if db.ckptStop != nil {
		close(db.ckptStop)
		<-db.ckptDone
		db.ckpt.Close()
		db.ckptStop = nil
	}
	err := db.r.Close()
	if err2 := db.w.Close(); err == nil {
		err = err2
	}
	return err
}

// Reader returns the read-only pool for queries outside the lifecycle
// services (reports, the relay).
func (db *DB) Reader() *sql.DB { return db.r }

// checkpointEvery is how often the checkpointer copies the WAL into the
// database file.
const checkpointEvery = 250 * time.Millisecond

// checkpointer runs WAL checkpoints on its own connection. Connections have
// automatic checkpoints switched off (wal_autocheckpoint(0) in the DSN):
// an automatic checkpoint runs inside the COMMIT that crosses the threshold
// and stalls every transaction queued behind it for the copy and its fsync.
// PASSIVE checkpoints here run beside the writer and never block it.
func (db *DB) checkpointer() {
	defer close(db.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.ckptStop:
			db.ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			return
		case <-t.C:
			if _, err := db.ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				db.Logger.Warn("wal checkpoint", "err", err)
			}
		}
	}
}

// MigrateTo applies migrations up to and including version on the database
// at path, without opening the services. Operators use it (zhiliao migrate
// --to) to stage upgrades, and tests to build an out-of-date schema.
func MigrateTo(ctx context.Context, path string, version int64) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		return err
	}
	defer db.Close()
	sub, err := fs.Sub(migrationFS, "migrations/sqlite")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
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
	if r.db.pg {
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
	if r.db.pg {
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

// errNoStmt: on PostgreSQL the driver prepares and caches statements itself.
var errNoStmt = errors.New("no prepared statement on PostgreSQL")

// Engine names the core's database: "sqlite" or "postgres".
func (db *DB) Engine() string {
	if db.pg {
		return "postgres"
	}
	return "sqlite"
}

// LatestSchemaVersion is the version the embedded migrations bring a SQLite
// core to.
func LatestSchemaVersion() int64 { return LatestSchemaVersionOf("sqlite") }

// LatestSchemaVersionOf is the same for an engine, "sqlite" or "postgres":
// each numbers its migrations on its own.
func LatestSchemaVersionOf(engine string) int64 {
	entries, _ := fs.ReadDir(migrationFS, "migrations/"+engine)
	var latest int64
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}
