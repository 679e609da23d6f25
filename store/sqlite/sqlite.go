// Package sqlite is the core's embedded engine (engine.Engine): one SQLite
// file in WAL mode under the data folder, written through one connection and
// read through a pool of WAL readers, with its own numbered migrations.
// Nothing here knows the services; store runs them on it.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/zhiliao/zhiliao/store/engine"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Engine is SQLite. Logger receives the checkpointer's warnings.
type Engine struct{ Logger *slog.Logger }

func (Engine) Name() string { return "sqlite" }

// Handles: every location that is not a server's DSN is a file path.
func (Engine) Handles(location string) bool { return !strings.Contains(location, "://") }

func (Engine) Redact(location string) string { return location }

// dsn: WAL with NORMAL sync (a commit is durable once the WAL is synced at
// the checkpoint; a crash loses no committed transaction, see DESIGN.md),
// foreign keys on, a large page cache and memory-mapped reads, and no
// automatic checkpoints (checkpointer). _txlock=immediate takes the write
// lock at BEGIN, so a write transaction never fails half-way for a lock.
func dsn(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)" +
		"&_pragma=busy_timeout(10000)&_pragma=cache_size(-262144)&_pragma=mmap_size(1073741824)&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
}

// Open opens (creating if needed) the file at path: the writer connection,
// eight readers, and the checkpointer beside them.
func (e Engine) Open(ctx context.Context, path string) (*engine.Pools, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn(path)+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	ck, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	ck.SetMaxOpenConns(1)
	logger := e.Logger
	if logger == nil {
		logger = slog.Default()
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go checkpointer(ck, stop, done, logger)
	closed := false
	return &engine.Pools{W: w, R: r, FilesDir: filepath.Join(filepath.Dir(path), "files"), Close: func() error {
		if closed {
			return nil
		}
		closed = true
		close(stop)
		<-done
		ck.Close()
		return errors.Join(r.Close(), w.Close())
	}}, nil
}

// checkpointEvery is how often the checkpointer copies the WAL into the
// database file.
const checkpointEvery = 250 * time.Millisecond

// checkpointer runs WAL checkpoints on its own connection. Connections have
// automatic checkpoints switched off (wal_autocheckpoint(0) in the DSN): an
// automatic checkpoint runs inside the COMMIT that crosses the threshold and
// stalls every transaction queued behind it for the copy and its fsync.
// PASSIVE checkpoints here run beside the writer and never block it.
func checkpointer(ck *sql.DB, stop, done chan struct{}, log *slog.Logger) {
	defer close(done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			ck.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			return
		case <-t.C:
			if _, err := ck.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				log.Warn("wal checkpoint", "err", err)
			}
		}
	}
}

func (Engine) Migrations() (fs.FS, goose.Dialect, []goose.ProviderOption, error) {
	sub, err := fs.Sub(migrations, "migrations")
	return sub, goose.DialectSQLite3, nil, err
}

// MigrateTo applies migrations up to and including version on the file at
// path, without opening the services (zhiliao migrate --to, and tests that
// need an out-of-date schema).
func MigrateTo(ctx context.Context, path string, version int64) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		return err
	}
	defer db.Close()
	sub, _, _, err := Engine{}.Migrations()
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

// SQLite allows one writer: store queues writes on the one connection and
// shares commits, so there is nothing to retry and nothing to lock.
func (Engine) SingleWriter() bool                    { return true }
func (Engine) Retryable(error) bool                  { return false }
func (Engine) ForUpdate() string                     { return "" }
func (Engine) Rebind(q string) string                { return q }
func (Engine) PrepareOnce() bool                     { return true }
func (Engine) PlacesFirstRows() bool                 { return true }
func (Engine) SharedByProcesses() bool               { return false }
func (Engine) ShipColumn() string                    { return "seq" }
func (Engine) HeadQuery() string                     { return headQuery }
func (Engine) SnapshotIsolation() sql.IsolationLevel { return sql.LevelDefault } // a read transaction is one WAL snapshot

// headQuery is the last seq given: the single writer numbers events from it.
const headQuery = "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'cdc_outbox'), 0)"

// Violation reads SQLite's constraint messages.
func (Engine) Violation(err error) (v engine.Violation, ok bool) {
	msg := err.Error()
	after := func(marker string) string {
		s := msg[strings.Index(msg, marker)+len(marker):]
		if i := strings.Index(s, " ("); i >= 0 {
			s = s[:i]
		}
		return s
	}
	switch {
	case strings.Contains(msg, "record_archived_immutable"):
		return engine.Violation{Kind: "archived"}, true
	case strings.Contains(msg, "UNIQUE constraint failed"):
		return engine.Violation{Kind: "unique", Name: after("UNIQUE constraint failed: ")}, true
	case strings.Contains(msg, "CHECK constraint failed"):
		return engine.Violation{Kind: "check", Name: after("CHECK constraint failed: ")}, true
	case strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return engine.Violation{Kind: "foreign_key"}, true
	}
	return engine.Violation{}, false
}

// NextSeqs: the single writer numbers the events itself.
func (Engine) NextSeqs(context.Context, *sql.Tx, int) ([]int64, error) { return nil, nil }

// Position: one writer commits in seq order, so seq is the position.
func (Engine) Position(context.Context, *sql.DB, int) error { return nil }

// PlaceNamespace moves the outbox sequence above base; each table's first
// row is placed by store (PlacesFirstRows), after which rowids follow on
// their own.
func (Engine) PlaceNamespace(ctx context.Context, tx *sql.Tx, _ []string, base int64) error {
	// sqlite_sequence has no key on name: replace its row by hand.
	if _, err := tx.ExecContext(ctx, "DELETE FROM sqlite_sequence WHERE name = 'cdc_outbox'"); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO sqlite_sequence (name, seq) VALUES ('cdc_outbox', ?)", base)
	return err
}

// One process opens the core: it leads at once and needs no lock.
func (Engine) TryLead(context.Context, *sql.Conn, int64) (bool, error) { return true, nil }
func (Engine) LockTx(context.Context, *sql.Tx, int64) error            { return nil }

// BackupTo: VACUUM INTO reads one snapshot of the database in a read
// transaction, so writers go on, and the copy is compact and holds exactly
// the transactions committed before it began.
func (Engine) BackupTo(ctx context.Context, r *sql.DB, path string) error {
	// VACUUM INTO takes its file name as an SQL string literal.
	_, err := r.ExecContext(ctx, "VACUUM INTO '"+strings.ReplaceAll(path, "'", "''")+"'")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

var _ engine.Engine = Engine{}
