package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrBackupEngine: the PostgreSQL core is backed up with the server's own
// tools (pg_basebackup, pg_dump), as the README's drill says.
var ErrBackupEngine = errors.New("核心库在 PostgreSQL 上：请用 pg_basebackup 或 pg_dump 备份 (README: 备份与恢复)")

// Backup writes a consistent copy of the SQLite core to out while the
// service keeps writing: VACUUM INTO reads one snapshot of the database
// in a read transaction, so writers go on, and the copy is compact and
// holds exactly the transactions committed before it began. It is written
// beside out and renamed into place, so out is never half a backup.
// Backup returns the outbox head the copy holds: the point it restores to.
func (db *DB) Backup(ctx context.Context, out string) (int64, error) {
	if db.pg {
		return 0, ErrBackupEngine
	}
	if _, err := os.Stat(out); err == nil {
		return 0, fmt.Errorf("%s 已存在 exists: a backup never overwrites a file", out)
	}
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".partial")
	os.Remove(tmp)
	// VACUUM INTO takes its file name as an SQL string literal.
	if _, err := db.r.ExecContext(ctx, "VACUUM INTO '"+strings.ReplaceAll(tmp, "'", "''")+"'"); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("backup: %w", err)
	}
	snap, err := Open(ctx, tmp, Options{Logger: db.Logger})
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("backup does not open: %w", err)
	}
	head, err := snap.OutboxHead(ctx)
	if cerr := snap.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, err
	}
	for _, side := range []string{"-wal", "-shm"} {
		os.Remove(tmp + side)
	}
	return head, nil
}
