//go:build !race

package etl_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/gen"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// regionEngines are the two ClickHouse layouts the regional benchmarks
// compare side by side: one server, and the 2 × 2 cluster with ZooKeeper.
// Each gives a fresh database, dropped when the sub-benchmark ends.
var regionEngines = []struct {
	name string
	dsn  func(testing.TB) string
}{
	{"single", warehousetest.ClickHouseDSN},
	{"cluster", warehousetest.ClusterDSN},
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkRegion measures a regional warehouse of ZHILIAO_BENCH_REGION_HOSPITALS
// hospitals (default 5) on one ClickHouse server and on the 2 × 2 cluster, side
// by side (issue 17). One hospital is generated (ZHILIAO_BENCH_REGION_CORE, a
// `zhiliao gen --preset hospital --institution H001 --institution-number 1`
// core) and relayed for real; the others are that hospital copied inside the
// warehouse under the next namespaces (regionCopy), each to the shard that
// owns its namespace, as the issue allows. Timed: the relay of the real
// hospital; a plain scan of the marts' sources; the full rebuild; the
// incremental run after a busy minute (ZHILIAO_BENCH_TAIL events, default
// 300) of every hospital; one hospital's month by day and the whole region's
// year by institution and department through Runner.Query, the API's path
// without its cache, repeated for percentiles; the disk of each server.
func BenchmarkRegion(b *testing.B) {
	path := os.Getenv("ZHILIAO_BENCH_REGION_CORE")
	if path == "" {
		b.Skip("set ZHILIAO_BENCH_REGION_CORE to a core generated with --institution-number 1 (docs/BENCHMARKS.md, issue 17)")
	}
	hospitals := envInt("ZHILIAO_BENCH_REGION_HOSPITALS", 5)
	tail := int64(envInt("ZHILIAO_BENCH_TAIL", 300))
	ctx := context.Background()
	core := openBenchCore(b, path)
	defer core.Close()
	head, err := core.OutboxHead(ctx)
	if err != nil {
		b.Fatal(err)
	}
	src := model.NamespaceOf(head)
	if src == 0 {
		b.Fatal("the core has no namespace: generate it with --institution-number 1, so that every id it holds can be told from a count")
	}
	// The busy minute is the one around the year's last treatment session:
	// the outbox's very last events are the evening's notices, which no
	// mart counts (an incremental run over them has nothing to do).
	var lastSession int64
	if err := core.Reader().QueryRow("SELECT max(seq) FROM cdc_outbox WHERE entity = 'session'").Scan(&lastSession); err != nil {
		b.Fatal(err)
	}
	upto := min(head, lastSession+tail/2)
	for _, e := range regionEngines {
		b.Run(e.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				regionRun(b, e.dsn(b), core, src, upto-tail, upto, hospitals)
			}
		})
	}
}

// regionRun fills a fresh warehouse to seq from, copies it into the other
// hospitals, builds the marts, then lands the events up to seq upto in
// every hospital and runs the incremental ETL.
func regionRun(b *testing.B, dsn string, core *store.DB, src, from, upto int64, hospitals int) {
	ctx := context.Background()
	whAny, err := clickhouse.OpenAny(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer whAny.Close()
	topo := openTopology(b, dsn, whAny)
	defer topo.close()
	copies := make([]int64, 0, hospitals-1)
	for k := 1; k < hospitals; k++ {
		copies = append(copies, src+int64(k))
	}

	began := time.Now()
	shipUpTo(b, core, whAny, from)
	relay := time.Since(began)
	relayed := warehousetest.Count(b, whAny, "SELECT count() FROM cdc_events")

	began = time.Now()
	topo.copyNamespace(b, src, copies, 0)
	copying := time.Since(began)
	perNS := map[int64]int64{}
	for _, row := range warehousetest.Rows(b, whAny, fmt.Sprintf("SELECT bitShiftRight(seq, %d) AS ns, count() FROM cdc_events GROUP BY ns", model.NamespaceBits)) {
		perNS[row[0].(int64)] = row[1].(int64)
	}
	for _, ns := range append([]int64{src}, copies...) {
		if perNS[ns] != relayed {
			b.Fatalf("namespace %d holds %d events after the copy, want %d (the relayed hospital's): %v", ns, perNS[ns], relayed, perNS)
		}
	}
	events := relayed * int64(hospitals)

	r := runner(whAny)
	began = time.Now()
	for _, q := range scanSQL {
		warehousetest.Rows(b, whAny, q)
	}
	scan := time.Since(began)
	began = time.Now()
	mustRun(b, r, etl.Options{Full: true})
	full := time.Since(began)
	sameByInstitution(b, r)

	// A busy minute of every hospital: the real one's next events, relayed,
	// and the same events copied into every other namespace.
	shipUpTo(b, core, whAny, upto)
	topo.copyNamespace(b, src, copies, from)
	began = time.Now()
	res := mustRun(b, r, etl.Options{Job: "incremental"})
	incr := time.Since(began)
	sameByInstitution(b, r)

	dims, err := r.Dimensions(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var inst int64 // one copied hospital
	for _, dp := range dims.Departments {
		if model.NamespaceOf(dp.InstitutionID) == copies[len(copies)/2] {
			inst = dp.InstitutionID
		}
	}
	workload := etl.MartByName("workload")
	month := etl.Query{From: "2026-05-01", To: "2026-05-31", Grain: "day", GroupBy: []string{"dept_id"},
		Ints: map[string][]int64{etl.InstitutionKey: {inst}}}
	year := etl.Query{From: "2025-11-24", To: "2026-11-22", Grain: "all", GroupBy: []string{etl.InstitutionKey, "dept_id"}}
	monthP50, monthP99 := queryTimes(b, r, workload, month, 30)
	yearP50, yearP99 := queryTimes(b, r, workload, year, 15)

	disks := topo.disk(b)
	b.ReportMetric(float64(events), "events")
	b.ReportMetric(float64(relayed)/relay.Seconds(), "relay-events/s")
	b.ReportMetric(copying.Seconds(), "copy-s")
	b.ReportMetric(scan.Seconds(), "scan-s")
	b.ReportMetric(full.Seconds(), "full-s")
	b.ReportMetric(full.Seconds()/scan.Seconds(), "full/scan")
	b.ReportMetric(incr.Seconds(), "incremental-s")
	b.ReportMetric(float64(res[0].Days), "incremental-days")
	b.ReportMetric(monthP50*1000, "month-p50-ms")
	b.ReportMetric(monthP99*1000, "month-p99-ms")
	b.ReportMetric(yearP50*1000, "year-p50-ms")
	b.ReportMetric(yearP99*1000, "year-p99-ms")
	var total, most int64
	for _, d := range disks {
		total += d
		most = max(most, d)
	}
	b.ReportMetric(float64(most)/(1<<20), "disk-max-server-MiB")
	b.ReportMetric(float64(total)/(1<<20), "disk-all-MiB")
	b.Logf("%s: %d events in %d hospitals; relay %.0f events/s (%s for %d); copy %s; scan %s; full %s; incremental %s (%d days); month p50/p99 %.0f/%.0f ms; year p50/p99 %.0f/%.0f ms; disk per server MiB %v",
		dsn, events, hospitals, float64(relayed)/relay.Seconds(), relay.Round(time.Millisecond), relayed, copying.Round(time.Millisecond),
		scan.Round(time.Millisecond), full.Round(time.Millisecond), incr.Round(time.Millisecond), res[0].Days,
		monthP50*1000, monthP99*1000, yearP50*1000, yearP99*1000, mib(disks))
}

func mib(xs []int64) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = x >> 20
	}
	return out
}

// sameByInstitution checks the copies: every hospital's year of workload
// and revenue sums the same as every other's, since they are one
// hospital's rows under other ids.
func sameByInstitution(b *testing.B, r *etl.Runner) {
	b.Helper()
	for _, name := range []string{"workload", "revenue"} {
		rows := queryRows(b, r, etl.MartByName(name), etl.Query{From: "2025-01-01", To: "2027-12-31", Grain: "all",
			GroupBy: []string{etl.InstitutionKey}, Measures: []string{"sessions"}})
		if len(rows) < 2 {
			b.Fatalf("%s by institution: %d rows", name, len(rows))
		}
		for _, row := range rows[1:] {
			if row[len(row)-1] != rows[0][len(row)-1] {
				b.Fatalf("%s by institution differ between copies of one hospital: %v", name, rows)
			}
		}
	}
}

func queryRows(b *testing.B, r *etl.Runner, m *etl.Mart, q etl.Query) [][]any {
	b.Helper()
	rr, err := r.Query(context.Background(), m, q)
	if err != nil {
		b.Fatal(err)
	}
	rows, err := warehouse.ReadAll(rr)
	if err != nil {
		b.Fatal(err)
	}
	return rows
}

// queryTimes runs q n times, reading every row, and returns the median and
// the 99th percentile in seconds.
func queryTimes(b *testing.B, r *etl.Runner, m *etl.Mart, q etl.Query, n int) (p50, p99 float64) {
	b.Helper()
	times := make([]float64, n)
	for i := range times {
		began := time.Now()
		if rows := queryRows(b, r, m, q); len(rows) == 0 {
			b.Fatalf("%s %s–%s: no rows", m.Name, q.From, q.To)
		}
		times[i] = time.Since(began).Seconds()
	}
	sort.Float64s(times)
	return times[n/2], times[min(n-1, (n*99+99)/100-1)]
}

// topology is the servers behind a warehouse DSN, by shard: one server for
// a single node, the cluster's system.clusters otherwise.
type topology struct {
	db     string        // where the rows are: DB, or DB_local on a cluster
	shards [][]string    // addresses by shard (0-based), replicas in order
	conns  []driver.Conn // one per server, shards then replicas
}

func openTopology(b *testing.B, dsn string, wh warehouse.Warehouse) *topology {
	b.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatal(err)
	}
	t := &topology{db: strings.TrimPrefix(u.Path, "/"), shards: [][]string{{strings.Split(u.Host, ",")[0]}}}
	if c, ok := wh.(*clickhouse.Cluster); ok {
		t.db, t.shards = c.Local, c.Replicas()
	}
	for _, replicas := range t.shards {
		for _, addr := range replicas {
			t.conns = append(t.conns, connect(b, addr))
		}
	}
	return t
}

func connect(b *testing.B, addr string) driver.Conn {
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, ReadTimeout: time.Hour,
		Settings: ch.Settings{"max_execution_time": 3600}})
	if err != nil {
		b.Fatal(err)
	}
	return conn
}

func (t *topology) close() {
	for _, c := range t.conns {
		c.Close()
	}
}

// first is the connection to a shard's first replica.
func (t *topology) first(shard int) driver.Conn {
	i := 0
	for s := 0; s < shard; s++ {
		i += len(t.shards[s])
	}
	return t.conns[i]
}

// namespaceColumn is the column that says which namespace a landing row is of.
func namespaceColumn(table string) string {
	switch table {
	case "cdc_events", "cdc_dead_letters":
		return "seq"
	case "cdc_batches":
		return "last_seq"
	}
	return warehouse.ColSeq // the relayed hospital has no snapshot rows (seq 0): it was never rebuilt
}

// idColumn says whether a column holds ids or seqs of a core: those move
// to the copy's namespace. Only values inside the source namespace move, so
// a column of small numbers named like an id is left as it was.
func idColumn(name string) bool {
	switch name {
	case "seq", "id", "tx_id", "first_seq", "last_seq", "entity_id", warehouse.ColSeq:
		return true
	}
	return strings.HasSuffix(name, "_id") || strings.HasSuffix(name, "_by")
}

// copyNamespace copies every landing row of namespace src with a seq above
// after into each namespace of copies, with every id of src moved by the
// namespaces' distance, on the shard that owns each copy (inserted into one
// replica; the other fetches it through ZooKeeper, awaited here). The
// payload JSON of cdc_events is copied as it is: the marts read the typed
// raw and latest tables, never the payload.
func (t *topology) copyNamespace(b *testing.B, src int64, copies []int64, after int64) {
	b.Helper()
	ctx := context.Background()
	tables := t.landing(b)
	srcShard := int(src % int64(len(t.shards)))
	var g errgroup.Group
	// Shards insert side by side; a shard's copies go one after another.
	byShard := map[int][]int64{}
	for _, ns := range copies {
		s := int(ns % int64(len(t.shards)))
		byShard[s] = append(byShard[s], ns)
	}
	for s, nss := range byShard {
		g.Go(func() error {
			conn := t.first(s)
			from := func(table string) string { return t.db + "." + table }
			if s != srcShard {
				from = func(table string) string {
					return fmt.Sprintf("remote('%s', %s, %s)", t.shards[srcShard][0], t.db, table)
				}
			}
			for _, ns := range nss {
				delta := model.NamespaceBase(ns) - model.NamespaceBase(src)
				for _, tb := range tables {
					exprs, names := make([]string, len(tb.cols)), make([]string, len(tb.cols))
					for i, c := range tb.cols {
						exprs[i], names[i] = c.name, c.name
						if c.int64 && idColumn(c.name) {
							exprs[i] = fmt.Sprintf("if(bitShiftRight(%s, %d) = %d, %s + %d, %s)", c.name, model.NamespaceBits, src, c.name, delta, c.name)
						}
					}
					nsCol := namespaceColumn(tb.name)
					q := fmt.Sprintf("INSERT INTO %s.%s (%s) SELECT %s FROM %s WHERE bitShiftRight(%s, %d) = %d AND %s > %d",
						t.db, tb.name, strings.Join(names, ", "), strings.Join(exprs, ", "), from(tb.name), nsCol, model.NamespaceBits, src, nsCol, max(after, model.NamespaceBase(src)-1))
					if err := conn.Exec(ctx, q); err != nil {
						return fmt.Errorf("%s into namespace %d: %w", tb.name, ns, err)
					}
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	if len(t.conns) > 1 {
		for _, conn := range t.conns {
			for _, tb := range tables {
				if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+t.db+"."+tb.name); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

type landingTable struct {
	name string
	cols []landingColumn
}

type landingColumn struct {
	name  string
	int64 bool
}

// landing lists the tables the relay writes, with their columns.
func (t *topology) landing(b *testing.B) []landingTable {
	b.Helper()
	rows, err := t.conns[0].Query(context.Background(), `SELECT table, name, type FROM system.columns WHERE database = ?
AND (table IN ('cdc_events', 'cdc_batches', 'cdc_dead_letters') OR table LIKE 'raw\\_%' OR table LIKE 'latest\\_%')
ORDER BY table`, t.db)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var out []landingTable
	for rows.Next() {
		var table, name, typ string
		if err := rows.Scan(&table, &name, &typ); err != nil {
			b.Fatal(err)
		}
		if len(out) == 0 || out[len(out)-1].name != table {
			out = append(out, landingTable{name: table})
		}
		last := &out[len(out)-1]
		last.cols = append(last.cols, landingColumn{name: name, int64: typ == "Int64" || typ == "Nullable(Int64)"})
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}

// disk is the bytes on disk of the warehouse's active parts, per server.
func (t *topology) disk(b *testing.B) []int64 {
	b.Helper()
	db := strings.TrimSuffix(t.db, "_local")
	out := make([]int64, len(t.conns))
	for i, conn := range t.conns {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database IN (?, ?)", db, db+"_local").Scan(&n); err != nil {
			b.Fatal(err)
		}
		out[i] = int64(n)
	}
	return out
}

// BenchmarkRegionRelay relays ZHILIAO_BENCH_REGION_CORES hospitals (default
// 5, the clinic preset, each its own core and namespace) into one warehouse
// at once, on one ClickHouse server and on the 2 × 2 cluster side by side:
// events per second for each hospital and for the region.
func BenchmarkRegionRelay(b *testing.B) {
	n := envInt("ZHILIAO_BENCH_REGION_CORES", 5)
	preset := gen.Presets["clinic"]
	if p, ok := gen.Presets[os.Getenv("ZHILIAO_BENCH_REGION_PRESET")]; ok {
		preset = p
	}
	ctx := context.Background()
	cores := make([]*store.DB, n)
	dir := b.TempDir()
	for i := range cores {
		db, err := store.Open(ctx, fmt.Sprintf("%s/core%d.db", dir, i), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		number := int64(11 + i)
		if _, err := gen.Run(ctx, db, gen.Config{Preset: preset, Seed: uint64(number),
			Institution: &gen.Institution{Code: fmt.Sprintf("H%03d", number), Number: number}}); err != nil {
			b.Fatal(err)
		}
		cores[i] = db
	}
	for _, e := range regionEngines {
		b.Run(e.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				wh, err := clickhouse.OpenAny(ctx, e.dsn(b))
				if err != nil {
					b.Fatal(err)
				}
				rates := make([]float64, n)
				var total int64
				var mu sync.Mutex
				var wg sync.WaitGroup
				began := time.Now()
				for j, core := range cores {
					wg.Add(1)
					go func() {
						defer wg.Done()
						t0 := time.Now()
						r := &cdc.Relay{Core: core, Warehouse: wh, Logger: quiet}
						if err := r.Drain(ctx); err != nil {
							b.Error(err)
							return
						}
						head, _ := core.OutboxHead(ctx)
						events := head - model.NamespaceBase(model.NamespaceOf(head))
						mu.Lock()
						total += events
						rates[j] = float64(events) / time.Since(t0).Seconds()
						mu.Unlock()
					}()
				}
				wg.Wait()
				wall := time.Since(began)
				if got := warehousetest.Count(b, wh, "SELECT count() FROM cdc_events"); got != total {
					b.Fatalf("the warehouse holds %d events, the cores %d", got, total)
				}
				slices.Sort(rates)
				b.ReportMetric(float64(total), "events")
				b.ReportMetric(float64(total)/wall.Seconds(), "region-events/s")
				b.ReportMetric(rates[0], "slowest-hospital-events/s")
				b.ReportMetric(rates[len(rates)-1], "fastest-hospital-events/s")
				wh.Close()
			}
		})
	}
}
