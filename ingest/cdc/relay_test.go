package cdc_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

func TestRelayMirrorsTheOutbox(t *testing.T) {
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		ctx := context.Background()
		core := pilotCore(t)
		wh := e.Open(t)
		defer wh.Close()
		head := outboxHead(t, core)
		r := quietRelay(core, wh)
		r.BatchSize = 3000
		if err := r.DrainTo(ctx, head/2); err != nil || r.Shipped() != head/2 {
			t.Fatalf("DrainTo(%d): shipped %d, %v", head/2, r.Shipped(), err)
		}
		if err := r.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if r.Shipped() != head {
			t.Fatalf("shipped %d, head %d", r.Shipped(), head)
		}
		verifyMirror(t, core, wh, true)
		cp, err := core.Checkpoint(ctx)
		if err != nil || cp.WarehouseID != wh.ID() || cp.Seq != head {
			t.Errorf("checkpoint %+v %v, want %s at %d", cp, err, wh.ID(), head)
		}

		// The same batch delivered again, by hand: nothing changes.
		before := warehousetest.Rows(t, wh, "SELECT count(*), sum(version) FROM ver_session")
		evs, err := core.ReadOutbox(ctx, 0, 5000, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			b := warehousetest.Build(evs...)
			if err := wh.Append(ctx, b); err != nil {
				t.Fatal(err)
			}
			b.Release()
		}
		verifyMirror(t, core, wh, true)
		if after := warehousetest.Rows(t, wh, "SELECT count(*), sum(version) FROM ver_session"); after[0][0] != before[0][0] || after[0][1] != before[0][1] {
			t.Errorf("sessions %v → %v after a repeated delivery", before, after)
		}
		// A second relay finds nothing to do.
		r2 := quietRelay(core, wh)
		if err := r2.Drain(ctx); err != nil || r2.Shipped() != head {
			t.Errorf("second drain: shipped %d err %v", r2.Shipped(), err)
		}
	})
}

// partialWarehouse lands only part of one batch and then "dies": it cancels
// the relay's run, as a killed process would stop mid-append.
type partialWarehouse struct {
	warehouse.Warehouse
	crashAt int
	n       int
	kill    context.CancelFunc
}

func (p *partialWarehouse) Append(ctx context.Context, b *warehouse.Batch) error {
	p.n++
	if p.n != p.crashAt {
		return p.Warehouse.Append(ctx, b)
	}
	part := &warehouse.Batch{FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, Raw: map[string]arrowRecord{}, Snapshot: true}
	for entity, rec := range b.Raw {
		if len(part.Raw) < len(b.Raw)/2+1 {
			part.Raw[entity] = rec
		}
	}
	if err := p.Warehouse.Append(ctx, part); err != nil {
		return err
	}
	p.kill()
	return errCrash
}

func TestRelayCrashesAtRandomPoints(t *testing.T) {
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		ctx := context.Background()
		core := pilotCore(t)
		wh := e.Open(t)
		defer wh.Close()
		rng := rand.New(rand.NewPCG(1, uint64(len(e.Name))))
		crashes := 0
		for i := 0; i < 21; i++ {
			addPatients(t, core, "crash"+strconv.Itoa(i), 30) // the core keeps changing between crashes
			r := quietRelay(core, wh)
			r.BatchSize = 20 + rng.IntN(400)
			at := 1 + rng.IntN(4)
			var w warehouse.Warehouse = wh
			runCtx, kill := context.WithCancel(ctx)
			n := 0
			switch point := i % 3; point {
			case 0: // after reading and building, before the append
				r.BeforeAppend = func(*warehouse.Batch) error {
					if n++; n == at {
						return errCrash
					}
					return nil
				}
			case 1: // after the append, before the checkpoint
				r.BeforeCheckpoint = func(*warehouse.Batch) error {
					if n++; n == at {
						return errCrash
					}
					return nil
				}
			case 2: // in the middle of the append
				w = &partialWarehouse{Warehouse: wh, crashAt: at, kill: kill}
			}
			r.Warehouse = w
			err := r.Drain(runCtx)
			kill()
			if err != nil || r.Shipped() != outboxHead(t, core) {
				crashes++
			}
		}
		if crashes < 14 {
			t.Fatalf("only %d of 21 runs crashed", crashes)
		}
		r := quietRelay(core, wh)
		if err := r.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		verifyMirror(t, core, wh, true)
	})
}

const helperEnv = "ZHILIAO_CDC_CRASH_HELPER"

// crashHelper is the relay process the SIGKILL test kills: it drains the
// core named by the environment into the warehouse named there.
func crashHelper() int {
	ctx := context.Background()
	core, err := store.Open(ctx, os.Getenv("HELPER_CORE"), store.Options{})
	if err != nil {
		return 3
	}
	var wh warehouse.Warehouse
	if dsn := os.Getenv("HELPER_WAREHOUSE"); strings.HasPrefix(dsn, "clickhouse://") {
		wh, err = clickhouse.Open(ctx, dsn)
	} else {
		wh, err = duckdb.Open(ctx, dsn)
	}
	if err != nil {
		return 4
	}
	batch, _ := strconv.Atoi(os.Getenv("HELPER_BATCH"))
	r := &cdc.Relay{Core: core, Warehouse: wh, BatchSize: batch, Logger: discard}
	if err := r.Drain(ctx); err != nil {
		return 5
	}
	return 0
}

// TestRelaySIGKILL kills a real relay process at random moments, many times,
// and then lets one finish: the warehouse holds exactly the outbox.
func TestRelaySIGKILL(t *testing.T) {
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		corePath := copyPilot(t)
		core := openCore(t, corePath)
		var dsn string
		switch e.Name {
		case "duckdb":
			dsn = t.TempDir() + "/warehouse.duckdb"
		default:
			dsn = warehousetest.ClickHouseDSN(t)
		}
		rng := rand.New(rand.NewPCG(2, 2))
		killed := 0
		for i := 0; i < 8; i++ {
			addPatients(t, core, "kill"+strconv.Itoa(i), 100) // the writer keeps going while the relay dies
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "HELPER_CORE="+corePath, "HELPER_WAREHOUSE="+dsn,
				"HELPER_BATCH="+strconv.Itoa(20+rng.IntN(300)))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("helper failed on its own: %v", err)
				}
			case <-time.After(time.Duration(30+rng.IntN(400)) * time.Millisecond):
				cmd.Process.Signal(syscall.SIGKILL)
				if err := <-done; err != nil {
					killed++ // it may have finished just before the signal
				}
			}
		}
		if killed < 3 {
			t.Fatalf("only %d of 8 runs were killed", killed)
		}
		ctx := context.Background()
		var wh warehouse.Warehouse
		var err error
		if e.Name == "duckdb" {
			wh, err = duckdb.Open(ctx, dsn)
		} else {
			wh, err = clickhouse.Open(ctx, dsn)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer wh.Close()
		if err := quietRelay(core, wh).Drain(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d kills, then a clean finish", killed)
		verifyMirror(t, core, wh, true)
	})
}

func TestDeadLettersDoNotBlockAndReplay(t *testing.T) {
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		ctx := context.Background()
		core := pilotCore(t)
		wh := e.Open(t)
		defer wh.Close()
		// A payload from a newer core with a column this warehouse does not
		// know, and one that is not JSON, in the middle of the outbox.
		_, err := rawCore(t, core).Exec(`INSERT INTO cdc_outbox (entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload)
VALUES ('room', 999, 'c', 1, '2026-09-01T00:00:00.000Z', 0, 1, '{"id":999,"version":1,"floor":3}'),
       ('room', 998, 'c', 1, '2026-09-01T00:00:00.000Z', 0, 1, 'not json')`)
		if err != nil {
			t.Fatal(err)
		}
		addPatients(t, core, "after", 10)
		reg := prometheus.NewRegistry()
		r := quietRelay(core, wh)
		if err := r.Register(reg); err != nil {
			t.Fatal(err)
		}
		if err := r.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if r.Shipped() != outboxHead(t, core) {
			t.Fatalf("the relay stopped at %d behind the dead letters", r.Shipped())
		}
		if n := warehousetest.Count(t, wh, "SELECT count(*) FROM cur_patient WHERE mrn LIKE 'after-%'"); n != 10 {
			t.Errorf("%d of the 10 patients behind the dead letters landed", n)
		}
		if got := testutil.ToFloat64(r.Metrics.DeadLetters()); got != 2 {
			t.Errorf("dead letter metric %v", got)
		}
		dls, err := wh.DeadLetters(ctx, 10)
		if err != nil || len(dls) != 2 || !strings.Contains(dls[0].Reason, `no column "floor"`) || !strings.Contains(dls[1].Reason, "bad JSON") {
			t.Fatalf("dead letters %+v %v", dls, err)
		}
		// Nothing has changed: the replay leaves both where they are.
		res, err := cdc.ReplayDeadLetters(ctx, wh)
		if err != nil || len(res.Replayed) != 0 || len(res.Failed) != 2 {
			t.Fatalf("replay %+v %v", res, err)
		}
		// A dead letter an older relay refused although this one can decode
		// it (the fix shipped): the replay lands it and resolves it.
		room := &model.Room{Meta: model.Meta{ID: 997, InstitutionID: 1, Version: 1}, Code: "R997", Name: "复盘室"}
		ev := warehousetest.Event(dls[0].Seq-1, 0, model.OpCreate, room)
		hw, _ := warehouse.HighWater(ctx, wh, 0)
		ev.Seq = hw // within what the warehouse holds
		if err := wh.Append(ctx, &warehouse.Batch{FirstSeq: ev.Seq, LastSeq: ev.Seq, Snapshot: true, DeadLetters: []warehouse.DeadLetter{{
			Seq: ev.Seq, Entity: ev.Entity, EntityID: ev.EntityID, Op: ev.Op, Version: 1, OccurredAt: ev.OccurredAt,
			InstitutionID: 1, Payload: string(ev.Payload), Reason: "decoder bug in an older release"}}}); err != nil {
			t.Fatal(err)
		}
		res, err = cdc.ReplayDeadLetters(ctx, wh)
		if err != nil || len(res.Replayed) != 1 || res.Replayed[0] != ev.Seq || len(res.Failed) != 2 {
			t.Fatalf("replay %+v %v", res, err)
		}
		if n := warehousetest.Count(t, wh, "SELECT count(*) FROM cur_room WHERE id = 997"); n != 1 {
			t.Errorf("replayed room landed %d times", n)
		}
		if dls, _ := wh.DeadLetters(ctx, 10); len(dls) != 2 {
			t.Errorf("after replay %d dead letters pending", len(dls))
		}
	})
}

func TestPruneAndRebuild(t *testing.T) {
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		ctx := context.Background()
		core := pilotCore(t)
		wh := e.Open(t)
		defer wh.Close()
		r := quietRelay(core, wh)
		if err := r.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		// Unshipped events are never pruned, whatever the window says.
		addPatients(t, core, "unshipped", 5)
		n, err := core.PruneOutbox(ctx, time.Now().Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		var left, unshipped int64
		core.Reader().QueryRow("SELECT count(*), count(*) FILTER (WHERE seq > ?) FROM cdc_outbox", r.Shipped()).Scan(&left, &unshipped)
		if n == 0 || unshipped != 5 || left != 5 {
			t.Fatalf("pruned %d, left %d (unshipped %d): want everything shipped pruned and the 5 kept", n, left, unshipped)
		}
		if _, err := rawCore(t, core).Exec("DELETE FROM cdc_outbox"); err == nil || !strings.Contains(err.Error(), "checkpointed") {
			t.Errorf("deleting unshipped outbox rows: %v", err)
		}
		// Generate more changes to old rows after the prune.
		addPatients(t, core, "later", 5)

		// A new, empty warehouse cannot be filled from a pruned outbox …
		fresh := warehousetest.DuckDB(t).Open(t)
		defer fresh.Close()
		if err := quietRelay(core, fresh).Drain(ctx); !errors.Is(err, cdc.ErrNeedsRebuild) {
			t.Fatalf("relay into an empty warehouse after pruning: %v", err)
		}
		// … but a rebuild fills it: snapshot, then the outbox replayed.
		var progress strings.Builder
		if err := cdc.Rebuild(ctx, core, wh, quietRelay(core, wh), &progress); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(progress.String(), "重建 rebuild: done") {
			t.Errorf("progress: %q", progress.String())
		}
		verifyMirror(t, core, wh, false)
		// And the relay goes on from there.
		addPatients(t, core, "after-rebuild", 3)
		r = quietRelay(core, wh)
		if err := r.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		verifyMirror(t, core, wh, false)
		if n := warehousetest.Count(t, wh, "SELECT count(*) FROM (SELECT DISTINCT seq FROM cdc_events)"); n != 13 {
			t.Errorf("%d events after the rebuild, want the 13 the outbox still held", n)
		}
	})
}

// stoppableServer is a private ClickHouse server this test may stop.
func stoppableServer(t *testing.T) (dsn string, stop, start func()) { return stoppable(t) }

func stoppableServerB(b *testing.B) (dsn string, stop, start func()) { return stoppable(b) }

func stoppable(t testing.TB) (dsn string, stop, start func()) {
	warehousetest.ClickHouseAddr(t) // skip or fail like every ClickHouse test
	dir := t.TempDir()
	port := strconv.Itoa(warehousetest.FreePorts(t, 3))
	script := "../../scripts/clickhouse-test-server"
	run := func(args ...string) {
		out, err := exec.Command(script, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, out)
		}
	}
	run("start", dir, port)
	t.Cleanup(func() { exec.Command(script, "stop", dir).Run() })
	return "clickhouse://127.0.0.1:" + port + "/outage", func() { run("stop", dir) }, func() { run("start", dir, port) }
}

func TestRelayRidesOutAClickHouseOutage(t *testing.T) {
	dsn, stop, start := stoppableServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	core := pilotCore(t)
	wh, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	reg := prometheus.NewRegistry()
	r := quietRelay(core, wh)
	r.FlushInterval = 20 * time.Millisecond
	r.BatchSize = 2000
	if err := r.Register(reg); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var runErr error
	go func() { defer wg.Done(); runErr = r.Run(ctx) }()
	waitFor(t, "the first catch-up", func() bool { return r.Shipped() == outboxHead(t, core) })

	stop()
	addPatients(t, core, "outage", 200) // the core keeps accepting writes
	waitFor(t, "append errors while the server is down", func() bool {
		return testutil.ToFloat64(r.Metrics.Errors("append")) > 0
	})
	if lag := testutil.ToFloat64(r.Metrics.Errors("append")); lag == 0 {
		t.Fatal("no errors counted")
	}
	start()
	waitFor(t, "the backlog to drain after the server returned", func() bool { return r.Shipped() == outboxHead(t, core) })
	cancel()
	wg.Wait()
	if runErr != nil {
		t.Fatal(runErr)
	}
	verifyMirror(t, core, wh, true)
}

func TestRelayKeepsUpWithLiveWrites(t *testing.T) {
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		core := pilotCore(t)
		wh := e.Open(t)
		defer wh.Close()
		reg := prometheus.NewRegistry()
		r := quietRelay(core, wh)
		r.FlushInterval = 20 * time.Millisecond
		if err := r.Register(reg); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		var runErr error
		go func() { defer wg.Done(); runErr = r.Run(ctx) }()
		// Four writers at once while the relay ships.
		var writers sync.WaitGroup
		for w := 0; w < 4; w++ {
			writers.Add(1)
			go func() { defer writers.Done(); addPatients(t, core, "live"+strconv.Itoa(w), 150) }()
		}
		writers.Wait()
		waitFor(t, "the relay to catch up", func() bool { return r.Shipped() == outboxHead(t, core) })
		lag, err := testutil.GatherAndCount(reg, "zhiliao_relay_lag_events", "zhiliao_relay_lag_seconds")
		if err != nil || lag != 2 {
			t.Errorf("lag gauges: %d %v", lag, err)
		}
		if v := gauge(t, reg, "zhiliao_relay_lag_events"); v != 0 {
			t.Errorf("lag %v events after catching up", v)
		}
		cancel()
		wg.Wait()
		if runErr != nil {
			t.Fatal(runErr)
		}
		verifyMirror(t, core, wh, true)
	})
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// waitFor polls cond until it holds; the deadline only keeps a broken relay
// from hanging the suite, it is not a speed assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRelayPrunesOnlyWhatItShipped: with a retention window, the relay
// prunes shipped events older than the window and nothing else.
func TestRelayPrunesOnlyWhatItShipped(t *testing.T) {
	ctx := context.Background()
	core := pilotCore(t)
	wh := warehousetest.DuckDB(t).Open(t)
	defer wh.Close()
	evs, _ := core.ReadOutbox(ctx, 0, 1<<30, nil)
	newest := evs[len(evs)-1].OccurredAt
	r := quietRelay(core, wh)
	// The pilot's clock ends at newest: keep the last day, prune the rest.
	r.Retention, r.PruneEvery = 24*time.Hour, time.Nanosecond
	r.Now = func() time.Time { return newest }
	if err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var left int64
	var oldest string
	core.Reader().QueryRow("SELECT count(*), min(occurred_at) FROM cdc_outbox").Scan(&left, &oldest)
	cut := newest.Add(-24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	if left == 0 || left >= int64(len(evs)) || oldest < cut {
		t.Errorf("after pruning: %d of %d events left, oldest %s, cut %s", left, len(evs), oldest, cut)
	}
	if got := testutil.ToFloat64(r.Metrics.Pruned()); int64(got) != int64(len(evs))-left {
		t.Errorf("pruned metric %v, pruned %d", got, int64(len(evs))-left)
	}
	cp, _ := core.Checkpoint(ctx)
	if cp.PrunedThrough == 0 {
		t.Error("pruned_through not recorded")
	}
}
