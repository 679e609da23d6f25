package etl_test

import (
	"context"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestNudgedRuns: a started scheduler builds the marts at once (not at its
// first cron turn, an hour away here), and a burst of nudges from the
// relay coalesces into live incremental runs that never overlap. The wait
// is a poll with a deadline, not a timing assumption.
func TestNudgedRuns(t *testing.T) {
	core := pilotCore(t)
	wh := warehousetest.DuckDB(t).Open(t)
	defer wh.Close()
	ship(t, core, wh)
	r := runner(wh)
	s := &etl.Scheduler{Runner: r, Incremental: "@every 1h", Full: "0 2 * * *", Logger: quiet, Debounce: 20 * time.Millisecond}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	liveRuns := func() int {
		runs, err := r.Runs(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, run := range runs {
			if run.Job == "live" && run.Mart == "workload" {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen within 30 s", what)
			}
		}
	}
	waitFor("the first build on start", func() bool { return liveRuns() >= 1 })
	before := liveRuns()
	for i := 0; i < 50; i++ {
		s.Nudge()
	}
	waitFor("a run after the burst of nudges", func() bool { return liveRuns() > before })
	s.Stop()
	if n := liveRuns() - before; n < 1 || n > 3 {
		t.Errorf("50 nudges gave %d runs, want them coalesced into 1–3", n)
	}
	runs, _ := r.Runs(context.Background(), 1000)
	for i := 1; i < len(runs); i++ {
		if runs[i-1].StartedAt.Before(runs[i].Finished.Add(-time.Second)) {
			t.Errorf("runs overlap: %+v and %+v", runs[i], runs[i-1])
		}
	}
}
