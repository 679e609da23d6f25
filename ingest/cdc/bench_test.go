package cdc_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// benchEvents is the outbox size of the throughput benchmark
// (ZHILIAO_BENCH_EVENTS, default 200k; docs/BENCHMARKS.md records 1M).
func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("ZHILIAO_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// benchBatch is the relay batch size of the benchmark (ZHILIAO_BENCH_BATCH,
// default the relay's default).
func benchBatch() int {
	if n, err := strconv.Atoi(os.Getenv("ZHILIAO_BENCH_BATCH")); err == nil && n > 0 {
		return n
	}
	return cdc.DefaultBatchSize
}

// benchOutbox returns a core whose outbox holds n real events: the pilot's
// events repeated with fresh ids (payload id and envelope entity_id moved
// together), so every payload is a real row of the lifecycle. The file is
// cached in the temp dir between runs.
func benchOutbox(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("zhiliao-bench-outbox-%d.db", n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	data, err := os.ReadFile(testcore.PilotFile(b))
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	core, err := store.Open(ctx, tmp, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	src, err := core.ReadOutbox(ctx, 0, 1<<30, nil)
	if err != nil {
		b.Fatal(err)
	}
	core.Close()
	db, err := sql.Open("sqlite", "file:"+tmp+"?_pragma=synchronous(off)&_pragma=journal_mode(wal)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.Prepare("INSERT INTO cdc_outbox (entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		b.Fatal(err)
	}
	have := len(src)
	for k := 1; have < n; k++ {
		off := int64(k) * 10_000_000
		for _, ev := range src {
			if have >= n {
				break
			}
			prefix := []byte(`{"id":` + strconv.FormatInt(ev.EntityID, 10) + `,`)
			if !bytes.HasPrefix(ev.Payload, prefix) {
				b.Fatalf("payload of seq %d does not start with its id", ev.Seq)
			}
			payload := append([]byte(`{"id":`+strconv.FormatInt(ev.EntityID+off, 10)+`,`), ev.Payload[len(prefix):]...)
			if _, err := stmt.Exec(ev.Entity, ev.EntityID+off, ev.Op, ev.Version, ev.OccurredAt.UTC().Format("2006-01-02T15:04:05.000Z"),
				ev.TxID+off, ev.InstitutionID, payload); err != nil {
				b.Fatal(err)
			}
			have++
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	db.Close()
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	return path
}

// BenchmarkRelay measures, side by side on one outbox: the relay; the naive
// pipeline (the same code shipping one event per append, i.e. one INSERT per
// event and table); and the ceiling (appending batches built beforehand: no
// read, no decode). Each iteration fills a fresh warehouse.
func BenchmarkRelay(b *testing.B) {
	n := benchEvents()
	path := benchOutbox(b, n)
	ctx := context.Background()
	engines := []func(testing.TB) warehousetest.Engine{warehousetest.DuckDB}
	if os.Getenv("ZHILIAO_TEST_CLICKHOUSE") != "" {
		engines = append(engines, warehousetest.ClickHouse)
	}
	for _, newEngine := range engines {
		name := newEngine(b).Name
		// relay-unmasked is the same relay with the payloads' identity rules
		// off (the baseline of issue 15's pseudonymisation: the relay then
		// skips even the byte scan that tells an old clear payload from a
		// masked one).
		for _, unmasked := range []bool{false, true} {
			sub := "/relay"
			if unmasked {
				sub = "/relay-unmasked"
			}
			b.Run(name+sub, func(b *testing.B) {
				core := openCore(b, copyFile(b, path))
				core.DisablePseudonyms = unmasked
				for i := 0; i < b.N; i++ {
					wh := newEngine(b).Open(b)
					r := quietRelay(core, wh)
					r.BatchSize = benchBatch()
					began := time.Now()
					if err := r.Drain(ctx); err != nil {
						b.Fatal(err)
					}
					settle(b, wh)
					b.ReportMetric(float64(r.Shipped())/time.Since(began).Seconds(), "events/s")
					wh.Close()
				}
			})
		}
		b.Run(name+"/naive", func(b *testing.B) {
			core := openCore(b, copyFile(b, path))
			const naiveEvents = 5000 // one append per event is too slow for the whole outbox
			for i := 0; i < b.N; i++ {
				wh := newEngine(b).Open(b)
				evs, err := core.ReadOutbox(ctx, 0, naiveEvents, nil)
				if err != nil {
					b.Fatal(err)
				}
				began := time.Now()
				r := quietRelay(core, wh)
				r.BatchSize = 1
				last := evs[len(evs)-1].Seq
				r.BeforeCheckpoint = func(bt *warehouse.Batch) error {
					if bt.LastSeq >= last {
						return errCrash // enough: stop here
					}
					return nil
				}
				if err := r.Drain(ctx); err != errCrash {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(evs))/time.Since(began).Seconds(), "events/s")
				wh.Close()
			}
		})
		b.Run(name+"/ceiling", func(b *testing.B) {
			core := openCore(b, copyFile(b, path))
			var batches []*warehouse.Batch
			bb := warehouse.NewBatchBuilder()
			var buf []model.ChangeEvent
			var pos int64
			for {
				var err error
				buf, err = core.ReadOutbox(ctx, pos, benchBatch(), buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				if len(buf) == 0 {
					break
				}
				for i := range buf {
					bb.Add(&buf[i])
				}
				pos = buf[len(buf)-1].Seq
				batches = append(batches, bb.Build())
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				wh := newEngine(b).Open(b)
				began := time.Now()
				for _, bt := range batches {
					if err := wh.Append(ctx, bt); err != nil {
						b.Fatal(err)
					}
				}
				settle(b, wh)
				b.ReportMetric(float64(pos)/time.Since(began).Seconds(), "events/s")
				wh.Close()
			}
		})
	}
}

// settle makes the timed work include what the engine defers: DuckDB's
// checkpoint of the WAL into the database file (which it would otherwise do
// on Close, outside the timer).
func settle(b *testing.B, wh warehouse.Warehouse) {
	if wh.Engine() == "duckdb" {
		if err := wh.Exec(context.Background(), "CHECKPOINT"); err != nil {
			b.Fatal(err)
		}
	}
}

func copyFile(tb testing.TB, src string) string { return testcore.Copy(tb, src) }
