// Package testmarts gives tests the pilot hospital with its analytics built:
// the core (every project in the EMR rating's scope too), shipped into a
// DuckDB warehouse and its marts rebuilt. It is built once per test binary
// and copied for each test, which then owns its copy.
package testmarts

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
)

// Site is one test's copy.
type Site struct {
	DB        *store.DB
	Warehouse *duckdb.Warehouse
	Runner    *etl.Runner
}

var (
	once sync.Once
	dir  string
	err  error
)

// Quiet is a logger that writes nothing.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func build(tb testing.TB) {
	ctx := context.Background()
	dir, err = os.MkdirTemp("", "zhiliao-testmarts-")
	if err != nil {
		return
	}
	core := testcore.Copy(tb, testcore.PilotFile(tb))
	db, e := store.Open(ctx, core, store.Options{Logger: Quiet})
	if e != nil {
		err = e
		return
	}
	defer db.Close()
	testcore.RatingScope(tb, db)
	wh, e := duckdb.Open(ctx, filepath.Join(dir, "warehouse.duckdb"))
	if e != nil {
		err = e
		return
	}
	defer wh.Close()
	if err = (&cdc.Relay{Core: db, Warehouse: wh, Logger: Quiet}).Drain(ctx); err != nil {
		return
	}
	if _, err = (&etl.Runner{Warehouse: wh, Logger: Quiet}).Run(ctx, etl.Options{Full: true}); err != nil {
		return
	}
	if err = db.Close(); err != nil {
		return
	}
	data, e := os.ReadFile(core)
	if e != nil {
		err = e
		return
	}
	err = os.WriteFile(filepath.Join(dir, "core.db"), data, 0o600)
}

// Pilot opens a fresh copy of the pilot with its marts built, closed when
// the test ends.
func Pilot(tb testing.TB) *Site {
	tb.Helper()
	once.Do(func() { build(tb) })
	if err != nil {
		tb.Fatal(err)
	}
	mine := tb.TempDir()
	for _, name := range []string{"core.db", "warehouse.duckdb"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mine, name), data, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(mine, "core.db"), store.Options{Logger: Quiet})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	wh, err := duckdb.Open(ctx, filepath.Join(mine, "warehouse.duckdb"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { wh.Close() })
	return &Site{DB: db, Warehouse: wh, Runner: &etl.Runner{Warehouse: wh, Logger: Quiet}}
}

// Cleanup removes the built files; TestMain calls it (and testcore's).
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
	testcore.Cleanup()
}
