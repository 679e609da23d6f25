package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zhiliao/zhiliao/store"
)

// runBackup is `zhiliao backup --out FILE`: an online, consistent copy of
// the SQLite core, taken while the service runs.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	var c common
	c.register(fs)
	out := fs.String("out", "", "备份文件 the backup file to write (it must not exist)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: --out FILE is required", errUsage)
	}
	db, err := openCore(ctx, &c, stderr, mustExist)
	if err != nil {
		return err
	}
	defer db.Close()
	began := time.Now()
	head, err := db.Backup(ctx, *out)
	if err != nil {
		return err
	}
	st, _ := os.Stat(*out)
	fmt.Fprintf(stdout, "备份完成 backup written to %s (%d bytes, outbox through seq %d) in %.1fs\n", *out, st.Size(), head, time.Since(began).Seconds())
	fmt.Fprintf(stdout, "影像与签名文件在 %s 下，另行复制 (files are immutable once written: copy the folder with rsync)\n", filepath.Join(c.data, "files"))
	fmt.Fprintf(stdout, "主密钥不在备份中，请另行保管 (the master key %s is not in the backup: without it the sealed fields of a restored core cannot be read; keep it apart)\n", c.keyPath())
	return nil
}

// runRestore is `zhiliao restore --from FILE`: the backup becomes the data
// folder's core, and the warehouse is rebuilt from it and its marts built
// again, because a warehouse filled from the lost core holds changes the
// restored one never made.
func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var c common
	var w whFlags
	c.register(fs)
	w.register(fs)
	from := fs.String("from", "", "备份文件 the backup file written by zhiliao backup")
	replace := fs.Bool("replace", false, "替换已有核心库 replace an existing core.db (it is kept as core.db.before-restore)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *from == "" {
		return fmt.Errorf("%w: --from FILE is required", errUsage)
	}
	if store.IsPostgres(c.core) {
		return store.ErrBackupEngine
	}
	if err := w.validate(); err != nil {
		return err
	}
	head, err := store.Restore(ctx, *from, c.data, *replace, c.migrate)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "核心库已恢复 core restored from %s (outbox through seq %d)\n", *from, head)

	if err := rebuildWarehouse(ctx, &c, &w, true, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "分析库已重建，数据集市已全量计算 warehouse rebuilt and marts built from the restored core")
	return nil
}
