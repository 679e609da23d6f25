package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestBackupUnderLoadRestores: a backup taken while writers change the core
// restores (zhiliao restore: the core, the warehouse rebuilt from it, the
// marts built) to marts equal to the source's at the backup's point: the
// source's outbox shipped exactly up to the seq the backup holds.
func TestBackupUnderLoadRestores(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	os.Rename(testcore.Copy(t, testcore.PilotFile(t)), filepath.Join(src, "core.db"))
	db := testcore.Open(t, filepath.Join(src, "core.db"))
	var projects []int64
	rows, err := db.QueryContext(ctx, "SELECT id FROM project")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		projects = append(projects, id)
	}
	rows.Close()
	inst, err := db.Institutions(ctx)
	if err != nil || len(inst) == 0 {
		t.Fatal(inst, err)
	}

	// Writers: new patients and rating-scope switches (which move the
	// data-quality mart), until the backup is done.
	var stop atomic.Bool
	var wrote atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				p := &model.Patient{MRN: fmt.Sprintf("B%d-%d", g, i), Name: "备份期间患者", Gender: "U"}
				p.InstitutionID = inst[0].ID
				if err := db.CreatePatient(ctx, p); err != nil {
					t.Error(err)
					return
				}
				if _, err := db.SetProjectScope(ctx, projects[rand.IntN(len(projects))], rand.IntN(2) == 0, true); err != nil {
					t.Error(err)
					return
				}
				wrote.Add(2)
			}
		}()
	}
	for wrote.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	backup := filepath.Join(t.TempDir(), "core-backup.db")
	head, err := db.Backup(ctx, backup)
	atBackup := wrote.Load()
	for wrote.Load() < atBackup+200 { // and the core moves on past it
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := db.OutboxHead(ctx); last <= head {
		t.Fatalf("the core did not move on after the backup: head %d, backup %d", last, head)
	}
	if _, err := db.Backup(ctx, backup); err == nil {
		t.Error("a backup overwrote an existing file")
	}

	// The source at the backup's point: its outbox shipped up to head.
	wh, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "at-backup.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	if err := (&cdc.Relay{Core: db, Warehouse: wh, Logger: discardLogger()}).DrainTo(ctx, head); err != nil {
		t.Fatal(err)
	}
	if _, err := (&etl.Runner{Warehouse: wh, Logger: discardLogger(), Placeholders: reports.DefaultRules().Placeholders}).
		Run(ctx, etl.Options{Full: true}); err != nil {
		t.Fatal(err)
	}

	restored := t.TempDir()
	if code, out, stderr := run(t, "restore", "--from", backup, "--data", restored, "--log-level", "error"); code != 0 {
		t.Fatalf("restore: %s %s", out, stderr)
	}
	if code, _, stderr := run(t, "restore", "--from", backup, "--data", restored, "--log-level", "error"); code == 0 ||
		!strings.Contains(stderr, "--replace") {
		t.Errorf("a second restore over the core without --replace: %d %s", code, stderr)
	}
	got, err := duckdb.Open(ctx, filepath.Join(restored, "warehouse.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	for _, m := range etl.Marts {
		want, have := martLines(t, wh, m), martLines(t, got, m)
		if len(want) == 0 || !slices.Equal(want, have) {
			t.Errorf("mart %s: %d rows restored, %d at the backup's point", m.Name, len(have), len(want))
		}
	}
}

// martLines is a mart's rows as sorted text.
func martLines(tb testing.TB, wh warehouse.Warehouse, m *etl.Mart) []string {
	var names []string
	for _, c := range m.Columns() {
		names = append(names, c.Name)
	}
	var out []string
	for _, r := range warehousetest.Rows(tb, wh, "SELECT "+strings.Join(names, ", ")+" FROM "+m.Table()) {
		out = append(out, fmt.Sprint(r...))
	}
	slices.Sort(out)
	return out
}
