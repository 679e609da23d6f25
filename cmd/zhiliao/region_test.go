//go:build !race

// A regional warehouse on ClickHouse, rebuilt one hospital at a time. It
// generates a second hospital, which the race detector slows most (with it
// the package took 362 s under -race in CI, 320–345 s before), so .ci/run
// runs it in the slow step without the detector, beside etl's regional tests.

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestRegionalRebuildOfOneHospital: in a warehouse two hospitals relay
// into, `warehouse rebuild` from one hospital's core empties and ships again
// only that hospital's namespace (the other's rows and the warehouse id
// stay), and builds the marts again, which still held its old rows.
func TestRegionalRebuildOfOneHospital(t *testing.T) {
	dsn := warehousetest.ClickHouseDSN(t)
	a := pilotData(t)
	b := t.TempDir()
	if code, _, stderr := run(t, "gen", "--preset", "pilot", "--institution", "H005", "--data", b, "--log-level", "error"); code != 0 {
		t.Fatalf("gen: %d %s", code, stderr)
	}
	for _, d := range []string{a, b} {
		if code, _, stderr := run(t, "relay", "--once", "--data", d, "--warehouse", dsn, "--log-level", "error"); code != 0 {
			t.Fatalf("relay %s: %d %s", d, code, stderr)
		}
	}
	if code, _, stderr := run(t, "etl", "run", "--full", "--data", a, "--warehouse", dsn, "--log-level", "error"); code != 0 {
		t.Fatalf("etl run: %d %s", code, stderr)
	}
	ctx := context.Background()
	wh, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	// The relays prune what of the generated outboxes is older than the
	// retention window (all of it, once the pilot's months are past): the
	// rebuild then ships hospital 5 as a snapshot of its rows rather than its
	// events, so what must stay equal is each namespace's high water and
	// marts, pruned or not.
	perNamespace := func() string {
		hws, err := wh.HighWaters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(hws, warehousetest.Rows(t, wh, fmt.Sprintf(
			"SELECT intDiv(dept_id, %d) AS ns, sum(sessions), sum(treatment_minutes), count() FROM mart_workload GROUP BY ns ORDER BY ns", model.NamespaceBase(1))))
	}
	before, id := perNamespace(), wh.ID()
	restores := func() int64 { return warehousetest.Count(t, wh, "SELECT count() FROM etl_runs WHERE job = 'restore'") }
	if restores() != 0 {
		t.Fatal("restore runs before the rebuild")
	}

	code, out, stderr := run(t, "warehouse", "rebuild", "--data", b, "--warehouse", dsn, "--log-level", "error")
	if code != 0 || !strings.Contains(out, "namespace 5") || !strings.Contains(out, "重建 rebuild: done") {
		t.Fatalf("rebuild of hospital 5: %d\n%s%s", code, out, stderr)
	}
	if after := perNamespace(); after != before {
		t.Errorf("high waters and 工作量 per namespace (ns, sessions, minutes, rows): %s before the rebuild, %s after", before, after)
	}
	if again, err := clickhouse.Open(ctx, dsn); err != nil || again.ID() != id {
		t.Errorf("warehouse id %s → %v %v: the other hospital's relay checkpoint would no longer apply", id, again, err)
	} else {
		again.Close()
	}
	if n := restores(); n != int64(len(etl.Marts)) {
		t.Errorf("%d mart runs after rebuilding one hospital of the region, want %d", n, len(etl.Marts))
	}
}
