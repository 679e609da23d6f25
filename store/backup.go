package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the SQLite core to out while the
// service keeps writing (store/sqlite's BackupTo: VACUUM INTO). It is written
// beside out and renamed into place, so out is never half a backup.
// Backup returns the outbox head the copy holds: the point it restores to.
func (db *DB) Backup(ctx context.Context, out string) (int64, error) {
	if db.eng.SharedByProcesses() {
		return 0, ErrBackupEngine // the server's own tools back it up
	}
	if _, err := os.Stat(out); err == nil {
		return 0, fmt.Errorf("%s 已存在 exists: a backup never overwrites a file", out)
	}
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".partial")
	os.Remove(tmp)
	if err := db.eng.BackupTo(ctx, db.r, tmp); err != nil {
		os.Remove(tmp)
		return 0, err
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
