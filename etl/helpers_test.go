package etl_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testcore.Cleanup()
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func pilotCore(tb testing.TB) *store.DB { return testcore.Pilot(tb) }

// ship drains the core into the warehouse.
func ship(tb testing.TB, core *store.DB, wh warehouse.Warehouse) {
	tb.Helper()
	r := &cdc.Relay{Core: core, Warehouse: wh, Logger: quiet}
	if err := r.Drain(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// built opens a warehouse of the engine (closed with the test), ships the
// core into it and builds every mart.
func built(tb testing.TB, core *store.DB, e warehousetest.Engine) (warehouse.Warehouse, *etl.Runner) {
	tb.Helper()
	wh := e.Open(tb)
	tb.Cleanup(func() { wh.Close() })
	ship(tb, core, wh)
	r := runner(wh)
	mustRun(tb, r, etl.Options{Full: true})
	return wh, r
}

func runner(wh warehouse.Warehouse) *etl.Runner {
	return &etl.Runner{Warehouse: wh, Logger: quiet}
}

func mustRun(tb testing.TB, r *etl.Runner, opt etl.Options) []etl.Result {
	tb.Helper()
	res, err := r.Run(context.Background(), opt)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// dump renders a mart as sorted text lines, one per row: the form parity
// and equality checks compare.
func dump(tb testing.TB, wh warehouse.Warehouse, m *etl.Mart) []string {
	tb.Helper()
	cols := m.Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	rows := warehousetest.Rows(tb, wh, "SELECT "+strings.Join(names, ", ")+" FROM "+m.Table())
	out := make([]string, 0, len(rows))
	for _, line := range lines(rows) {
		// A row of all-zero measures carries nothing: engines may or may not
		// keep one, so neither does the comparison.
		zero := true
		for _, p := range strings.Split(line, "|")[len(m.Keys):] {
			if p != "0" {
				zero = false
			}
		}
		if !zero {
			out = append(out, line)
		}
	}
	sort.Strings(out)
	return out
}

func diff(a, b []string) string {
	am := map[string]int{}
	for _, x := range a {
		am[x]++
	}
	for _, x := range b {
		am[x]--
	}
	var lines []string
	for k, v := range am {
		if v > 0 {
			lines = append(lines, "only left:  "+k)
		} else if v < 0 {
			lines = append(lines, "only right: "+k)
		}
	}
	sort.Strings(lines)
	if len(lines) > 8 {
		lines = append(lines[:8], fmt.Sprintf("… %d more", len(lines)-8))
	}
	return strings.Join(lines, "\n")
}
