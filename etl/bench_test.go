package etl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/vault"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// scanSQL reads the same source columns the marts read, summed, with no
// grouping, joining or replacing: the floor a full rebuild is measured
// against. scanRawSQL reads them from the raw layer instead (every version
// of every row, which the current tables the marts read are derived from).
var scanSQL, scanRawSQL = map[string]string{}, map[string]string{}

func init() {
	cols := map[string]string{
		"session":      "sum(charge_fen) + sum(units) + sum(performer_id) + sum(patient_id) + sum(seq_no) + sum(order_id) + sum(dept_id) + sum(project_id) + count(started_at) + count(ended_at) + count(visit_type) + count(adverse_reaction)",
		"order":        "sum(amount_fen) + sum(refund_fen) + count(paid_at) + count(refunded_at) + count(ordered_at) + sum(dept_id) + sum(project_id) + count(visit_type)",
		"record":       "sum(session_id) + count(signed_at) + count(due_at) + count(treated_at) + sum(project_id) + count(project_code) + count(project_name) + count(patient_name)",
		"appointment":  "count(booked_at) + count(cancelled_at) + count(planned_at) + sum(project_id) + count(channel) + count(status)",
		"queue_ticket": "count(checked_in_at) + count(started_at) + count(day) + sum(project_id)",
		"slot":         "sum(capacity) + sum(booked) + count(day)",
		"course":       "count(started_at) + count(ended_at) + sum(application_id) + sum(patient_id)",
		"application":  "count(applied_at) + sum(project_id) + count(visit_type)",
		"assessment":   "count(signed_at) + sum(assessor_id) + sum(application_id)",
		"followup":     "count(done_at) + count(due_date) + sum(done_by) + count(channel)",
		"survey":       "count(sent_at) + count(answered_at) + count(scores) + count(channel)",
		"complaint":    "count(received_at) + count(replied_at) + sum(dept_id)",
	}
	for ent, expr := range cols {
		scanSQL[ent] = "SELECT " + expr + " FROM cur_" + ent
		scanRawSQL[ent] = "SELECT " + expr + " FROM raw_" + ent
	}
}

// BenchmarkMarts measures, side by side on one warehouse: a plain scan of
// the marts' source columns, a full rebuild of every mart, and an
// incremental run over a minute of events. The core comes from
// ZHILIAO_BENCH_CORE (a `zhiliao gen` data folder's core.db; default the
// pilot). The warehouse is filled to 70 % of the outbox (a live system in
// the middle of its year) before the timer starts; the incremental run then
// takes the next ZHILIAO_BENCH_TAIL events (default 300: a busy minute of a
// 3,000-bed hospital, which commits ~30k changes a day).
func BenchmarkMarts(b *testing.B) {
	path := os.Getenv("ZHILIAO_BENCH_CORE")
	if path == "" {
		path = testcore.Copy(b, testcore.PilotFile(b))
	}
	tail := int64(300)
	if n, err := fmt.Sscan(os.Getenv("ZHILIAO_BENCH_TAIL"), &tail); n != 1 || err != nil {
		tail = 300
	}
	ctx := context.Background()
	core := openBenchCore(b, path)
	defer core.Close()
	head, _ := core.OutboxHead(ctx)
	engines := []func(testing.TB) warehousetest.Engine{warehousetest.DuckDB}
	if os.Getenv("ZHILIAO_TEST_CLICKHOUSE") != "" {
		engines = append(engines, warehousetest.ClickHouse)
	}
	for _, newEngine := range engines {
		e := newEngine(b)
		b.Run(e.Name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				wh := e.Open(b)
				if e.Name == "duckdb" {
					wh.Close() // a fresh file per iteration
					wh = warehousetest.DuckDB(b).Open(b)
				}
				at := head * 7 / 10
				shipUpTo(b, core, wh, at)
				r := runner(wh)
				began := time.Now()
				for _, q := range scanSQL {
					warehousetest.Rows(b, wh, q)
				}
				scan := time.Since(began)
				began = time.Now()
				for _, q := range scanRawSQL {
					warehousetest.Rows(b, wh, q)
				}
				scanRaw := time.Since(began)
				began = time.Now()
				mustRun(b, r, etl.Options{Full: true})
				full := time.Since(began)
				// The floor under any full rebuild: writing the rows it
				// makes, here as a copy of every built mart into a new table.
				began = time.Now()
				for _, m := range etl.Marts {
					copyTable(b, wh, m.Table())
				}
				writeFloor := time.Since(began)
				shipUpTo(b, core, wh, at+tail)
				began = time.Now()
				res := mustRun(b, r, etl.Options{Job: "incremental"})
				incr := time.Since(began)
				b.ReportMetric(scan.Seconds(), "scan-s")
				b.ReportMetric(full.Seconds(), "full-s")
				b.ReportMetric(full.Seconds()/scan.Seconds(), "full/scan")
				b.ReportMetric(scanRaw.Seconds(), "scan-raw-s")
				b.ReportMetric(writeFloor.Seconds(), "write-floor-s")
				b.ReportMetric(full.Seconds()/scanRaw.Seconds(), "full/scan-raw")
				b.ReportMetric(incr.Seconds(), "incremental-s")
				b.ReportMetric(float64(res[0].Days), "incremental-days")
				wh.Close()
			}
		})
	}
}

// openBenchCore opens a generated core for a benchmark, with the master
// key `zhiliao gen` left beside it (DATA/master.key), if there is one.
func openBenchCore(b *testing.B, path string) *store.DB {
	b.Helper()
	var opt store.Options
	if key := filepath.Join(filepath.Dir(path), "master.key"); fileExists(key) {
		m, err := vault.LoadMaster(key)
		if err != nil {
			b.Fatal(err)
		}
		opt.Master = m
	}
	core, err := store.Open(context.Background(), path, opt)
	if err != nil {
		b.Fatal(err)
	}
	return core
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// copyTable copies a table's rows into a new table and drops it again.
func copyTable(b *testing.B, wh warehouse.Warehouse, table string) {
	b.Helper()
	ctx := context.Background()
	q := "CREATE TABLE bench_copy AS SELECT * FROM " + table
	if wh.Engine() == "clickhouse" {
		q = "CREATE TABLE bench_copy ENGINE = Memory AS SELECT * FROM " + table
	}
	for _, s := range []string{q, "DROP TABLE bench_copy"} {
		if err := wh.Exec(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
}
