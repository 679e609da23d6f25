package gen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// The parallel run. The serial run is one discrete-event simulation of the
// whole hospital, with one clock and one random stream; its transactions
// follow one another. On PostgreSQL, where transactions on different rows
// commit side by side, the departments can be simulated at once instead:
// after the shared setup (the hospital, its departments, staff, rooms,
// projects and first rosters, made serially), each department is a worker
// with its own clock, random stream, event queue and patients, writing
// through a store.Partition. The partition gives the worker's rows their ids
// and its receipts their numbers from a range of its own, so nothing a
// worker writes depends on the other workers or on the order of commits:
// the same seed gives the same rows, the same references between them and
// the same outbox events, compared as sets by entity, id and version (only
// seq and tx_id record the interleaving). Departments share no locked row:
// a worker books its own slots for its own patients, queues its own
// reminders and delivers its own patients' notices.

// partitionShift places worker i's ids at namespace base + (i+1)·2^31: up to
// 511 workers of 2^31 ids each inside a core's namespace (2^40).
const (
	partitionShift = 31
	partitionSpan  = int64(1) << partitionShift
	maxWorkers     = 1<<(model.NamespaceBits-partitionShift) - 1
)

// errRetried: a worker's day was sent to the database twice. A retry would
// replay the simulation's steps on state they already changed, so the run
// stops instead; it means two departments locked the same row.
var errRetried = errors.New("parallel generation: a department's day was retried after a conflict with another department")

func (g *generator) runParallel(ctx context.Context, began time.Time) error {
	var workers []*generator
	for _, hs := range g.hosps {
		for _, dp := range hs.depts {
			i := len(workers)
			if i >= maxWorkers {
				return fmt.Errorf("parallel generation: %d departments, at most %d", i+1, maxWorkers)
			}
			// The department's patients are its own (returning visits come
			// back to it), so its hospital here holds it alone.
			whs := &hospital{inst: hs.inst, depts: []*dept{dp}}
			dp.h = whs
			w := &generator{db: g.db, cfg: g.cfg, now: g.now, hosps: []*hospital{whs},
				rng:   rand.New(rand.NewPCG(g.cfg.Seed+uint64(i+1)*0x9e3779b97f4a7c15, g.cfg.Seed^0xda942042e4dd58b5)),
				stats: &Stats{RefusedBy: map[string]int{}, Spoiled: Spoiled{}}, records: map[int64][]int64{}, baseRates: map[[2]string]float64{},
				worker: i, tag: fmt.Sprintf("W%03d", i+1), deptScope: dp.d.ID}
			w.partBase = model.NamespaceBase(g.db.Namespace()) + int64(i+1)*partitionSpan
			w.part = store.NewPartition(w.partBase, func() time.Time { return w.now })
			workers = append(workers, w)
		}
	}
	var daysDone atomic.Int64
	total := int64(len(workers) * g.cfg.Preset.Days)
	eg, ectx := errgroup.WithContext(ctx)
	limit := g.cfg.Workers
	if limit <= 0 {
		limit = 8
	}
	eg.SetLimit(limit)
	for _, w := range workers {
		eg.Go(func() error { return w.runAll(store.WithPartition(ectx, w.part), &daysDone) })
	}
	stop := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if g.cfg.Progress == nil {
			return
		}
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(g.cfg.Progress, "生成 gen %s（%d 个科室并行 departments in parallel）: %d/%d department-days · 事件 events %d · %.0fs\n",
					g.cfg.Preset.Name, len(workers), daysDone.Load(), total, g.events(ctx), time.Since(began).Seconds())
			}
		}
	}()
	err := eg.Wait()
	close(stop)
	<-progressDone
	if err != nil {
		return err
	}
	for _, w := range workers {
		g.stats.merge(w.stats)
	}
	if g.cfg.Progress != nil {
		fmt.Fprintf(g.cfg.Progress, "生成 gen %s（%d 个科室并行）: %d department-days · 治疗 sessions %d · 事件 events %d · %.0fs\n",
			g.cfg.Preset.Name, len(workers), total, g.stats.Sessions, g.events(ctx), time.Since(began).Seconds())
	}
	return nil
}

// runAll runs every day of the preset for the worker's department, each day
// one transaction.
func (g *generator) runAll(ctx context.Context, done *atomic.Int64) error {
	for d := 0; d < g.cfg.Preset.Days; d++ {
		day := g.cfg.Preset.Start.AddDate(0, 0, d)
		if d == g.cfg.Preset.Days/2 && g.defects().RenameProject {
			if err := g.renameProject(ctx); err != nil {
				return fmt.Errorf("rename: %w", err)
			}
		}
		ran := false
		var first error
		if err := g.db.Batch(ctx, func(ctx context.Context) error {
			if ran {
				return fmt.Errorf("%w (the first attempt: %v)", errRetried, first)
			}
			ran = true
			first = g.runDay(ctx, day)
			return first
		}); err != nil {
			return fmt.Errorf("%s day %s: %w", g.hosps[0].depts[0].d.Name, day.Format("2006-01-02"), err)
		}
		done.Add(1)
	}
	return nil
}

// merge adds a worker's counts to s.
func (s *Stats) merge(w *Stats) {
	s.Orders += w.Orders
	s.Courses += w.Courses
	s.Appointments += w.Appointments
	s.NoShows += w.NoShows
	s.Cancels += w.Cancels
	s.WalkIns += w.WalkIns
	s.Sessions += w.Sessions
	s.Refused += w.Refused
	s.CourseAbandoned += w.CourseAbandoned
	s.Followups += w.Followups
	s.Surveys += w.Surveys
	s.Complaints += w.Complaints
	for k, v := range w.RefusedBy {
		s.RefusedBy[k] += v
	}
	for rule, ids := range w.Spoiled {
		for id := range ids {
			s.Spoiled.add(rule, id)
		}
	}
}
