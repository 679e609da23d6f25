// Package testcore gives tests a real core database with the pilot preset
// generated into it through the lifecycle services: generated once per test
// binary (about a second), copied for each test that asks.
package testcore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zhiliao/zhiliao/gen"
	"github.com/zhiliao/zhiliao/store"
)

// Seed is the pilot's seed in every test binary.
const Seed = 7

var (
	once sync.Once
	dir  string
	path string
	err  error
)

// PilotFile is the generated pilot core of this test binary; tests must not
// write to it (use Copy).
func PilotFile(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		if dir, err = os.MkdirTemp("", "zhiliao-pilot-"); err != nil {
			return
		}
		path = filepath.Join(dir, "core.db")
		ctx := context.Background()
		var db *store.DB
		// The pilot is a hospital that chose clear names in its warehouse
		// (store.NamesClear): the marts' tests check who may see a name.
		// The default, masked names, is store's and cmd's to test.
		if db, err = store.Open(ctx, path, store.Options{WarehouseNames: store.NamesClear}); err != nil {
			return
		}
		_, err = gen.Run(ctx, db, gen.Config{Preset: gen.Presets["pilot"], Seed: Seed})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// Copy copies a core file into the test's temp dir and returns the copy.
func Copy(tb testing.TB, src string) string {
	tb.Helper()
	dst := filepath.Join(tb.TempDir(), "core.db")
	data, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// Pilot opens a fresh copy of the pilot core, closed when the test ends.
func Pilot(tb testing.TB) *store.DB {
	tb.Helper()
	return Open(tb, Copy(tb, PilotFile(tb)))
}

// Open opens a core file, closed when the test ends.
func Open(tb testing.TB, path string) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Cleanup removes the generated pilot; TestMain calls it after m.Run.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
	for _, d := range regionDirs {
		os.RemoveAll(d)
	}
}

var (
	hospitalsMu sync.Mutex
	hospitals   = map[int64]string{}
)

// HospitalFile is the pilot generated as hospital number n of a region
// (code H00n, namespace n, its own seed), once per test binary; tests must
// not write to it (use Copy).
func HospitalFile(tb testing.TB, n int64) string {
	tb.Helper()
	hospitalsMu.Lock()
	defer hospitalsMu.Unlock()
	if p, ok := hospitals[n]; ok {
		return p
	}
	d, err := os.MkdirTemp("", "zhiliao-hospital-")
	if err != nil {
		tb.Fatal(err)
	}
	regionDirs = append(regionDirs, d)
	p := filepath.Join(d, "core.db")
	ctx := context.Background()
	db, err := store.Open(ctx, p, store.Options{WarehouseNames: store.NamesClear}) // as the pilot
	if err != nil {
		tb.Fatal(err)
	}
	_, err = gen.Run(ctx, db, gen.Config{Preset: gen.Presets["pilot"], Seed: Seed + uint64(n),
		Institution: &gen.Institution{Code: fmt.Sprintf("H%03d", n), Number: n}})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
	hospitals[n] = p
	return p
}

// Hospital opens a fresh copy of hospital n's core, closed when the test ends.
func Hospital(tb testing.TB, n int64) *store.DB {
	tb.Helper()
	return Open(tb, Copy(tb, HospitalFile(tb, n)))
}

var regionDirs []string
