package cdc_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// BenchmarkCommitToMart measures how long a committed change takes to
// reach the marts the API and the dashboards read, with the service's live
// path: the relay ships, nudges the scheduler, which runs the marts
// incrementally (debounced). A steady 50 HIS orders a second are committed
// for ZHILIAO_BENCH_LIVE_SECONDS (default 20); every 50 ms the benchmark
// reads today's order count from the project mart through the same query
// the API answers with, and reports for each order the time from its
// commit to the first read that counts it (p50, p99, max).
//
// Two ways side by side: live (the relay nudges the marts) and cron-1m
// (the schedule alone, every minute, as before live figures).
//
//	go test ./ingest/cdc -run '^$' -bench CommitToMart -benchtime 1x
func BenchmarkCommitToMart(b *testing.B) {
	for _, mode := range []string{"live", "cron-1m"} {
		b.Run(mode, func(b *testing.B) { commitToMart(b, mode == "live") })
	}
}

func commitToMart(b *testing.B, live bool) {
	steady := envSeconds("ZHILIAO_BENCH_LIVE_SECONDS", 20)
	const rate = 50
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		core := pilotCore(b)
		wh := warehousetest.DuckDB(b).Open(b)
		r := quietRelay(core, wh)
		r.FlushInterval = 100 * time.Millisecond
		if err := r.Drain(ctx); err != nil {
			b.Fatal(err)
		}
		marts := &etl.Runner{Warehouse: wh, Logger: discard}
		if _, err := marts.Run(ctx, etl.Options{Full: true}); err != nil {
			b.Fatal(err)
		}
		sched := &etl.Scheduler{Runner: marts, Incremental: "@every 1h", Full: "0 2 * * *", Logger: discard}
		if live {
			r.OnShipped = func(int64) { sched.Nudge() }
		} else {
			sched.Incremental = "@every 1m"
		}
		if err := sched.Start(); err != nil {
			b.Fatal(err)
		}
		relayDone := make(chan struct{})
		go func() { defer close(relayDone); r.Run(ctx) }()

		var inst int64
		var code string
		core.Reader().QueryRow("SELECT institution_id, code FROM project ORDER BY id LIMIT 1").Scan(&inst, &code)
		today := time.Now().In(model.Local).Format("2006-01-02")
		m := etl.MartByName("project")
		count := func() int64 {
			rr, err := marts.Query(ctx, m, etl.Query{From: today, To: today, Grain: "all", Measures: []string{"orders"}})
			if err != nil {
				return -1
			}
			rows, _ := warehouse.ReadAll(rr)
			if len(rows) == 0 {
				return 0
			}
			n, _ := rows[0][0].(int64)
			return n
		}
		base := count()
		var mu sync.Mutex
		var committed []time.Time // the commit time of the k-th order of the run
		var seen []time.Time      // the first read that counted k orders
		writeCtx, stopWriting := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / rate)
			defer tick.Stop()
			for k := 0; ; k++ {
				select {
				case <-tick.C:
				case <-writeCtx.Done():
					return
				}
				_, err := core.ReceiveOrder(ctx, model.OrderMessage{InstitutionID: inst, MessageID: fmt.Sprintf("LIVE-%d", k), Action: model.HISNew,
					OrderNo: fmt.Sprintf("LIVE-%d", k), PatientMRN: fmt.Sprintf("LIVE-%d", k%200), PatientName: "实时患者", ProjectCode: code,
					Quantity: 1, VisitType: model.VisitOutpatient, DiagnosisCode: "L81.4", OrderedAt: time.Now(), Paid: true})
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				committed = append(committed, time.Now())
				mu.Unlock()
			}
		}()
		poll := func(until func() bool) {
			for !until() {
				n := count() - base
				now := time.Now()
				for int64(len(seen)) < n {
					seen = append(seen, now)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		end := time.Now().Add(steady)
		poll(func() bool { return time.Now().After(end) })
		stopWriting()
		wg.Wait()
		deadline := time.Now().Add(90 * time.Second)
		poll(func() bool { return len(seen) >= len(committed) || time.Now().After(deadline) })
		var lags []float64
		for k := range committed {
			if k < len(seen) {
				lags = append(lags, float64(seen[k].Sub(committed[k]).Milliseconds()))
			}
		}
		sort.Float64s(lags)
		if len(lags) < len(committed) {
			b.Errorf("%d of %d orders never reached the mart", len(committed)-len(lags), len(committed))
		}
		b.ReportMetric(float64(len(committed))/steady.Seconds(), "committed/s")
		b.ReportMetric(percentile(lags, 0.50), "p50-visible-ms")
		b.ReportMetric(percentile(lags, 0.99), "p99-visible-ms")
		b.ReportMetric(percentile(lags, 1), "max-visible-ms")
		sched.Stop()
		cancel()
		<-relayDone
		wh.Close()
	}
}
