package etl_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestFailedRunKeepsGoodRows: a run whose SQL fails leaves the mart as the
// last good run left it, says so in the run log and the metrics, and the
// next run after the cause is gone succeeds.
func TestFailedRunKeepsGoodRows(t *testing.T) {
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		ctx := context.Background()
		core := pilotCore(t)
		wh := e.Open(t)
		ship(t, core, wh)
		r := runner(wh)
		r.Metrics = etl.NewMetrics(prometheus.NewRegistry())
		mustRun(t, r, etl.Options{Full: true})
		good := dump(t, wh, etl.MartByName("revenue"))
		// The view the revenue SQL reads goes away (a broken upgrade, say).
		for _, q := range []string{"DROP VIEW cur_order", "DROP TABLE cur_order"} {
			wh.Exec(ctx, q)
		}
		_, err := r.Run(ctx, etl.Options{Full: true, Marts: []string{"revenue"}, Job: "nightly"})
		if err == nil {
			t.Fatal("the run did not fail")
		}
		if got := dump(t, wh, etl.MartByName("revenue")); !slices.Equal(got, good) {
			t.Errorf("a failed run changed the mart: %d rows, had %d", len(got), len(good))
		}
		runs, err := r.Runs(ctx, 1)
		if err != nil || len(runs) != 1 || runs[0].Status != "failed" || runs[0].Error == "" {
			t.Errorf("run log %+v %v", runs, err)
		}
		if n := testutil.ToFloat64(r.Metrics.Failures("revenue", "nightly")); n != 1 {
			t.Errorf("failure metric %v", n)
		}
		fresh, _ := r.Freshness(ctx)
		for _, f := range fresh {
			if f.Mart == "revenue" && (f.LastStatus != "failed" || f.LastSuccess.IsZero()) {
				t.Errorf("freshness after the failure: %+v", f)
			}
		}
		// Reopening restores the views; the next run succeeds.
		wh.Close()
		wh = e.Open(t)
		defer wh.Close()
		r.Warehouse = wh
		if _, err := r.Run(ctx, etl.Options{Full: true, Marts: []string{"revenue"}}); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, wh, etl.MartByName("revenue")); !slices.Equal(got, good) {
			t.Errorf("after recovery: %s", diff(got, good))
		}
	})
}

// slowWarehouse holds every query until released: a run in progress.
type slowWarehouse struct {
	warehouse.Warehouse
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *slowWarehouse) Query(ctx context.Context, q string, args ...any) (array.RecordReader, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return s.Warehouse.Query(ctx, q, args...)
}

// TestRunsNeverOverlap: a second run while one is in progress is refused,
// and a scheduler firing meanwhile skips its turn.
func TestRunsNeverOverlap(t *testing.T) {
	core := pilotCore(t)
	wh := warehousetest.DuckDB(t).Open(t)
	defer wh.Close()
	ship(t, core, wh)
	slow := &slowWarehouse{Warehouse: wh, entered: make(chan struct{}), release: make(chan struct{})}
	r := runner(slow)
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(context.Background(), etl.Options{})
		done <- err
	}()
	<-slow.entered
	if _, err := r.Run(context.Background(), etl.Options{}); !errors.Is(err, etl.ErrBusy) {
		t.Errorf("second run: %v, want ErrBusy", err)
	}
	s := &etl.Scheduler{Runner: r, Incremental: "@every 1s", Full: "0 2 * * *", Logger: quiet}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // let it fire into the running run at least once
	close(slow.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.Stop()
	runs, err := r.Runs(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Every mart ran once for the first run; any scheduled run came after it.
	first := map[string]int{}
	for _, run := range runs {
		if run.Job == "manual" {
			first[run.Mart]++
		}
	}
	for _, m := range etl.Marts {
		if first[m.Name] != 1 {
			t.Errorf("%s ran %d times in the first run", m.Name, first[m.Name])
		}
	}
	for i := 1; i < len(runs); i++ { // newest first: no run starts before the previous one finished
		if runs[i-1].StartedAt.Before(runs[i].Finished.Add(-time.Second)) {
			t.Errorf("runs overlap: %+v and %+v", runs[i], runs[i-1])
		}
	}
	if (etl.Scheduler{}).Incremental != "" || etl.ParseSpec("every minute") == nil {
		t.Error("a bad cron spec is accepted")
	}
}

// TestFailedSnapshotLeavesNothing: on ClickHouse an incremental run reads
// its days into snapshot tables; when one cannot be read the run fails, the
// marts keep their rows, and no snapshot table is left behind. The next run
// after the cause is gone succeeds and leaves none either.
func TestFailedSnapshotLeavesNothing(t *testing.T) {
	ctx := context.Background()
	e := warehousetest.ClickHouse(t)
	core := pilotCore(t)
	head, _ := core.OutboxHead(ctx)
	wh := e.Open(t)
	// The last events touch a few days, which a run reads into snapshots
	// (a run over more than two months reads cur_ instead).
	shipUpTo(t, core, wh, head-200)
	r := runner(wh)
	mustRun(t, r, etl.Options{Full: true})
	good := dump(t, wh, etl.MartByName("revenue"))
	ship(t, core, wh)
	snaps := "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'etl_snap_%'"
	if err := wh.Exec(ctx, "DROP TABLE latest_order"); err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx, etl.Options{Job: "incremental"})
	if err == nil {
		t.Fatal("the run did not fail")
	}
	for _, x := range res {
		// Every mart reads the snapshots, made together before the first.
		if x.Status != "failed" {
			t.Errorf("%s did not fail: %+v", x.Mart, x)
		}
	}
	if got := dump(t, wh, etl.MartByName("revenue")); !slices.Equal(got, good) {
		t.Errorf("a failed run changed the mart: %s", diff(got, good))
	}
	if n := warehousetest.Count(t, wh, snaps); n != 0 {
		t.Errorf("%d snapshot tables left after a failed run", n)
	}
	// Reopening recreates latest_order from the raw layer.
	wh.Close()
	wh = e.Open(t)
	defer wh.Close()
	r.Warehouse = wh
	res = mustRun(t, r, etl.Options{Job: "incremental"})
	for _, x := range res {
		if x.Full || x.Days == 0 || x.Days > 62 {
			t.Errorf("want an incremental run over a few days (snapshots): %+v", x)
		}
	}
	if n := warehousetest.Count(t, wh, snaps); n != 0 {
		t.Errorf("%d snapshot tables left after a run", n)
	}
	if got := dump(t, wh, etl.MartByName("revenue")); slices.Equal(got, good) {
		t.Error("the last events did not reach the revenue mart")
	}
}
