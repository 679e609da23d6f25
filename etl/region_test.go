//go:build !race

// The regional tests relay three hospitals' cores into DuckDB, a single
// ClickHouse and the 2 × 2 cluster and build their marts: minutes under the
// race detector (294 s and 135 s measured), seconds of which are Go. .ci/run
// runs them without it, beside the crash tests; the cluster's Go code stays
// under the race detector through its contract (TestContractOnCluster).

package etl_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestRegionalWarehouse: three hospitals' cores, each in its own namespace,
// relay at once into one warehouse. Per institution the warehouse holds
// exactly its core's outbox, and its marts equal those the same hospital gets
// alone in an embedded DuckDB, also when the hospital with the lowest
// namespace lands after the marts were built from the others (an ETL that
// kept one watermark for the whole warehouse would never see it).
func TestRegionalWarehouse(t *testing.T) {
	numbers := []int64{2, 5, 9}
	cores, alone := region(t, numbers)
	for _, e := range []warehousetest.Engine{warehousetest.DuckDB(t), warehousetest.ClickHouse(t), warehousetest.Cluster(t)} {
		t.Run(e.Name, func(t *testing.T) { regional(t, e, numbers, cores, alone) })
	}
}

// regional relays the cores into a fresh warehouse of e and checks it
// against each hospital alone.
func regional(t *testing.T, e warehousetest.Engine, numbers []int64, cores map[int64]*store.DB, alone map[int64]map[string][]string) {
	ctx := context.Background()
	{
		wh := e.Open(t)
		defer wh.Close()
		relayAll := func(ns ...int64) {
			t.Helper()
			var g errgroup.Group
			for _, n := range ns {
				core := cores[n]
				g.Go(func() error {
					return (&cdc.Relay{Core: core, Warehouse: wh, BatchSize: 997, Logger: quiet}).Drain(ctx)
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
		}
		relayAll(5, 9)
		r := runner(wh)
		mustRun(t, r, etl.Options{})
		relayAll(2)
		res := mustRun(t, r, etl.Options{Job: "incremental"})
		for _, x := range res {
			if x.Full || x.Days <= 0 || len(x.Watermarks) != 3 {
				t.Errorf("%s: the run after hospital 2 landed was not an incremental run over its days: %+v", x.Mart, x)
			}
		}

		check := func(when string) {
			t.Helper()
			hws, err := wh.HighWaters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range numbers {
				core := cores[n]
				head, _ := core.OutboxHead(ctx)
				if hws[n] != head {
					t.Errorf(when+": hospital %d: high water %d, its outbox head %d", n, hws[n], head)
				}
				events, err := core.ReadOutbox(ctx, 0, 1<<20, nil)
				if err != nil {
					t.Fatal(err)
				}
				var sum int64
				for _, ev := range events {
					sum += ev.Seq - model.NamespaceBase(n)
				}
				inst := events[0].InstitutionID
				got := warehousetest.Rows(t, wh, fmt.Sprintf("SELECT count(*), count(DISTINCT seq), sum(seq - %d) FROM cdc_events WHERE institution_id = %d", model.NamespaceBase(n), inst))
				if got[0][0] != int64(len(events)) || got[0][1] != int64(len(events)) || fmt.Sprint(got[0][2]) != fmt.Sprint(sum) {
					t.Errorf(when+": hospital %d: the warehouse holds %v (count, distinct, seq sum), its outbox %d events summing to %d", n, got[0], len(events), sum)
				}
			}
			for _, m := range etl.Marts {
				byHospital := map[int64][]string{}
				for _, line := range dump(t, wh, m) {
					dept, _ := strconv.ParseInt(strings.Split(line, "|")[1], 10, 64)
					byHospital[model.NamespaceOf(dept)] = append(byHospital[model.NamespaceOf(dept)], line)
				}
				for _, n := range numbers {
					if len(alone[n][m.Name]) == 0 {
						t.Errorf(when+": %s: hospital %d has no rows alone", m.Name, n)
					}
					if !slices.Equal(byHospital[n], alone[n][m.Name]) {
						t.Errorf(when+": %s of hospital %d: %d rows in the region, %d alone\n%s", m.Name, n, len(byHospital[n]), len(alone[n][m.Name]), diff(byHospital[n], alone[n][m.Name]))
					}
				}
				if len(byHospital) != len(numbers) {
					t.Errorf(when+": %s: rows of namespaces %v", m.Name, keys(byHospital))
				}
			}
			if sh, ok := wh.(warehouse.Sharded); ok {
				// Each namespace on exactly one shard, the one it maps to.
				shards := sh.Shards()
				for i, s := range shards {
					for _, row := range warehousetest.Rows(t, s, fmt.Sprintf("SELECT DISTINCT intDiv(seq, %d) FROM cdc_events", model.NamespaceBase(1))) {
						ns, _ := row[0].(int64)
						if int(ns)%len(shards) != i {
							t.Errorf(when+": namespace %d has events on shard %d of %d", ns, i+1, len(shards))
						}
					}
				}
			}
		}
		check("relayed")

		// Hospital 5's rows lost from the region (its core restored, say),
		// and rebuilt from its core alone: the others' rows stay, the same
		// blocks land again (replicated tables would drop them as repeats),
		// and the marts built after match each hospital alone again.
		if err := wh.ResetNamespace(ctx, 5); err != nil {
			t.Fatal(err)
		}
		mustRun(t, r, etl.Options{Full: true})
		if n := warehousetest.Count(t, wh, fmt.Sprintf("SELECT count(*) FROM cdc_events WHERE seq >= %d AND seq < %d", model.NamespaceBase(5), model.NamespaceBase(6))); n != 0 {
			t.Fatalf("%d events of hospital 5 after its namespace was emptied", n)
		}
		var progress strings.Builder
		if err := cdc.Rebuild(ctx, cores[5], wh, &cdc.Relay{BatchSize: 997, Logger: quiet}, &progress); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(progress.String(), "namespace 5") {
			t.Errorf("the rebuild of one hospital of a region does not say it keeps the others: %q", progress.String())
		}
		mustRun(t, r, etl.Options{Full: true})
		check("rebuilt")
		fresh, err := r.Freshness(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fresh {
			if f.Behind != 0 || f.DataAsOf.IsZero() {
				t.Errorf("%s: %d events behind, data as of %v", f.Mart, f.Behind, f.DataAsOf)
			}
		}
	}
}

func keys[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// region opens a copy of each hospital's core and builds each alone in an
// embedded DuckDB: the marts, dumped, that the region's must equal.
func region(t *testing.T, numbers []int64) (map[int64]*store.DB, map[int64]map[string][]string) {
	t.Helper()
	cores := map[int64]*store.DB{}
	alone := map[int64]map[string][]string{}
	for _, n := range numbers {
		cores[n] = testcore.Hospital(t, n)
		wh, _ := built(t, cores[n], warehousetest.DuckDB(t))
		alone[n] = map[string][]string{}
		for _, m := range etl.Marts {
			alone[n][m.Name] = dump(t, wh, m)
		}
	}
	return cores, alone
}
