package cdc_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

func envSeconds(name string, def int) time.Duration {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return time.Duration(def) * time.Second
}

// steadyWriter commits rate changes per second through the core's service
// (eight writers, paced by the clock) until ctx ends.
func steadyWriter(ctx context.Context, b *testing.B, core *store.DB, rate int) *sync.WaitGroup {
	var inst int64
	core.Reader().QueryRow("SELECT min(id) FROM institution").Scan(&inst)
	var wg sync.WaitGroup
	const writers = 8
	interval := time.Duration(writers) * time.Second / time.Duration(rate)
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				next := start.Add(time.Duration(i)*interval + time.Duration(w)*interval/writers)
				if d := time.Until(next); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				if ctx.Err() != nil {
					return
				}
				p := &model.Patient{MRN: fmt.Sprintf("lag-%d-%d", w, i), Name: "压测患者", Gender: "U"}
				p.InstitutionID = inst
				if err := core.CreatePatient(context.Background(), p); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	return &wg
}

type mark struct {
	at  time.Time
	seq int64
}

// BenchmarkRelayLag runs a steady 5,000 committed changes/s against the
// relay and reports commit-to-visible lag (p50, p99, max), sampling the
// outbox head every 10 ms; on ClickHouse it then stops the server for an
// outage (ZHILIAO_BENCH_OUTAGE_SECONDS, default 10; 60 in BENCHMARKS.md) and
// reports the catch-up rate once it returns.
func BenchmarkRelayLag(b *testing.B) {
	steady := envSeconds("ZHILIAO_BENCH_LAG_SECONDS", 10)
	outage := envSeconds("ZHILIAO_BENCH_OUTAGE_SECONDS", 10)
	const rate = 5000
	engines := []string{"duckdb"}
	if os.Getenv("ZHILIAO_TEST_CLICKHOUSE") != "" {
		engines = append(engines, "clickhouse")
	}
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				core := pilotCore(b)
				var wh warehouse.Warehouse
				var stop, start func()
				if engine == "duckdb" {
					wh = warehousetest.DuckDB(b).Open(b)
				} else {
					var dsn string
					dsn, stop, start = stoppableServerB(b)
					var err error
					if wh, err = clickhouse.Open(ctx, dsn); err != nil {
						b.Fatal(err)
					}
				}
				r := quietRelay(core, wh)
				r.FlushInterval = 100 * time.Millisecond
				var mu sync.Mutex
				var shipped []mark
				r.BeforeCheckpoint = func(bt *warehouse.Batch) error {
					mu.Lock()
					shipped = append(shipped, mark{time.Now(), bt.LastSeq})
					mu.Unlock()
					return nil
				}
				if err := r.Drain(ctx); err != nil { // the pilot first, so the load starts from caught-up
					b.Fatal(err)
				}
				go r.Run(ctx)
				// The marts' scheduler fires every second meanwhile.
				marts := &etl.Runner{Warehouse: wh, Logger: discard}
				mustBuild := func() {
					if _, err := marts.Run(ctx, etl.Options{Full: true}); err != nil {
						b.Fatal(err)
					}
				}
				mustBuild()
				sched := &etl.Scheduler{Runner: marts, Incremental: "@every 1s", Full: "0 2 * * *", Logger: discard}
				if err := sched.Start(); err != nil {
					b.Fatal(err)
				}
				writeCtx, stopWriting := context.WithCancel(ctx)
				writers := steadyWriter(writeCtx, b, core, rate)
				var commits []mark
				sample := func(until time.Time) {
					for time.Now().Before(until) {
						h, _ := core.OutboxHead(ctx)
						commits = append(commits, mark{time.Now(), h})
						time.Sleep(10 * time.Millisecond)
					}
				}
				began := time.Now()
				h0, _ := core.OutboxHead(ctx)
				sample(time.Now().Add(steady))
				h1, _ := core.OutboxHead(ctx)
				achieved := float64(h1-h0) / time.Since(began).Seconds()
				mu.Lock()
				lags := lagsOf(commits, shipped)
				mu.Unlock()
				sched.Stop()
				runs, err := marts.Runs(ctx, 10000)
				if err != nil {
					b.Fatal(err)
				}
				fired, overlaps := 0, 0
				var prev *etl.Result
				for i := len(runs) - 1; i >= 0; i-- { // oldest first
					run := runs[i]
					if run.Job != "incremental" || run.Mart != "workload" {
						continue
					}
					fired++
					if prev != nil && run.StartedAt.Before(prev.Finished) {
						overlaps++
					}
					prev = &runs[i]
				}
				b.ReportMetric(float64(fired), "etl-runs")
				b.ReportMetric(steady.Seconds()-float64(fired), "etl-missed")
				b.ReportMetric(float64(overlaps), "etl-overlaps")
				b.ReportMetric(achieved, "committed/s")
				b.ReportMetric(percentile(lags, 0.50), "p50-lag-ms")
				b.ReportMetric(percentile(lags, 0.99), "p99-lag-ms")
				b.ReportMetric(percentile(lags, 1), "max-lag-ms")
				if stop != nil {
					stop()
					time.Sleep(outage)
					backlogFrom := r.Shipped()
					start()
					back := time.Now()
					for {
						h, _ := core.OutboxHead(ctx)
						if r.Shipped() >= h-rate/10 { // within 100 ms of writes: caught up
							break
						}
						time.Sleep(5 * time.Millisecond)
					}
					took := time.Since(back).Seconds()
					b.ReportMetric(float64(r.Shipped()-backlogFrom)/took, "catchup-events/s")
					b.ReportMetric(float64(r.Shipped()-backlogFrom)/took/achieved, "catchup-x-steady")
				}
				stopWriting()
				writers.Wait()
				cancel()
				wh.Close()
			}
		})
	}
}

// lagsOf pairs each sampled commit with the first shipment that covered it.
func lagsOf(commits, shipped []mark) []float64 {
	var out []float64
	j := 0
	for _, c := range commits {
		for j < len(shipped) && shipped[j].seq < c.seq {
			j++
		}
		if j == len(shipped) {
			break
		}
		out = append(out, float64(shipped[j].at.Sub(c.at).Microseconds())/1000)
	}
	return out
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p*float64(len(s))) - 1
	return s[max(0, min(i, len(s)-1))]
}
