package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
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

// Restore puts the SQLite core backed up in from into the data folder dir
// (as dir/core.db) and returns the outbox head it holds, the point the
// warehouse is rebuilt to. The backup must open as a core (migrated when
// migrate is set) before anything is replaced; a core already in dir is
// replaced only with replace, and kept beside as core.db.before-restore
// (with its -wal and -shm). The copy is written beside and renamed into
// place, so dir never holds half a core.
func Restore(ctx context.Context, from, dir string, replace, migrate bool) (int64, error) {
	check, err := Open(ctx, from, Options{Migrate: migrate})
	if err != nil {
		return 0, fmt.Errorf("备份无法打开 the backup does not open as a core: %w", err)
	}
	head, err := check.OutboxHead(ctx)
	check.Close()
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, err
	}
	core := filepath.Join(dir, "core.db")
	if _, err := os.Stat(core); err == nil {
		if !replace {
			return 0, fmt.Errorf("%s 已有核心库 holds a core: stop the service and add --replace to restore over it", dir)
		}
		if err := os.Rename(core, core+".before-restore"); err != nil {
			return 0, err
		}
		for _, side := range []string{"-wal", "-shm"} {
			os.Rename(core+side, core+".before-restore"+side)
		}
	} else if !errors.Is(err, iofs.ErrNotExist) {
		return 0, err
	}
	return head, copyFile(from, core)
}

// copyFile copies src to dst through a temporary file renamed into place.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".partial"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
