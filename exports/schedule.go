package exports

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
)

// DefaultMonthly is when the monthly reports are written: 06:00 China time
// on the 1st, for the month before.
const DefaultMonthly = "0 6 1 * *"

// MonthlyReports are the reports the monthly schedule writes.
var MonthlyReports = []string{"dept-monthly", "emr-0601"}

// Schedule writes the monthly reports for every department into the
// reports folder (the quality office's monthly set). A run missed while no
// instance was up is caught up when the schedule starts again.
type Schedule struct {
	Manager *Manager
	Spec    string // cron, China time; "" disables
	// Dims lists the departments (etl.Runner).
	Dims   func(ctx context.Context) (*etl.Dims, error)
	Logger *slog.Logger
	// Now is the clock (time.Now when nil): which run was due is decided
	// on it, never on the wall clock behind the caller's back.
	Now func() time.Time
	// Ready, when set, is waited for before a missed run is caught up: the
	// marts must hold what the core held before the report is written
	// (serve: the relay has shipped the outbox and the marts have run).
	Ready func(ctx context.Context) error

	c       *cron.Cron
	stop    context.CancelFunc
	catchUp sync.WaitGroup
}

func (s *Schedule) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// catchUpLookback bounds how far back a missed run is looked for: the
// latest due time within it is caught up, older ones are not (a month's
// report is asked for by hand after a longer outage).
const catchUpLookback = 35 * 24 * time.Hour

// LastDue is the latest time at or before now that spec fires, within the
// look-back, or the zero time.
func LastDue(spec string, now time.Time) (time.Time, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return time.Time{}, err
	}
	var last time.Time
	for t := sched.Next(now.Add(-catchUpLookback).In(model.Local)); !t.After(now); t = sched.Next(t) {
		last = t
	}
	return last, nil
}

// Missed reports what the latest due run should have written and has not:
// the due time and the reports of its month without a finished workbook.
func (s *Schedule) Missed() (time.Time, []string, error) {
	due, err := LastDue(s.Spec, s.now())
	if err != nil || due.IsZero() {
		return due, nil, err
	}
	from, to := LastMonth(due)
	done, err := s.Manager.ListScheduled()
	if err != nil {
		return due, nil, err
	}
	var missing []string
	for _, id := range MonthlyReports {
		if !slices.ContainsFunc(done, func(sc Scheduled) bool {
			return sc.Report == id && sc.From == from && sc.To == to && sc.Status == Done
		}) {
			missing = append(missing, id)
		}
	}
	return due, missing, nil
}

// CatchUp writes what the latest due run missed, saying so in its records
// (caught_up, due_at) and the log. It does nothing when that run is done.
func (s *Schedule) CatchUp(ctx context.Context) ([]Scheduled, error) {
	due, missing, err := s.Missed()
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			return nil, err
		}
	}
	s.logger().Info("catching up a missed scheduled run", "due", due.In(model.Local).Format("2006-01-02 15:04"), "reports", missing)
	// Once started, the reports finish even if the schedule is stopped,
	// as a run of the cron's own does: a half-written month helps no one.
	return s.run(context.WithoutCancel(ctx), due, missing, true)
}

// LastMonth is the first and last day of the month before t (China time).
func LastMonth(t time.Time) (string, string) {
	t = t.In(model.Local)
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, model.Local)
	return first.AddDate(0, -1, 0).Format("2006-01-02"), first.AddDate(0, 0, -1).Format("2006-01-02")
}

// RunMonthly writes the monthly reports for the month before now.
func (s *Schedule) RunMonthly(ctx context.Context, now time.Time) ([]Scheduled, error) {
	return s.run(ctx, now, MonthlyReports, false)
}

// run writes the reports ids for the month before due.
func (s *Schedule) run(ctx context.Context, due time.Time, ids []string, caughtUp bool) ([]Scheduled, error) {
	dims, err := s.Dims(ctx)
	if err != nil {
		return nil, err
	}
	p := reports.Params{By: "定时任务 schedule"}
	p.From, p.To = LastMonth(due)
	for _, d := range dims.Departments {
		p.Depts, p.DeptNames = append(p.Depts, d.ID), append(p.DeptNames, d.Name)
	}
	var out []Scheduled
	var firstErr error
	for _, id := range ids {
		sc, err := s.Manager.runScheduled(ctx, reports.ReportByID(id), p, due, caughtUp)
		out = append(out, sc)
		if err != nil {
			s.logger().Error("scheduled report failed", "report", id, "from", p.From, "to", p.To, "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		s.logger().Info("scheduled report written", "report", id, "file", sc.Name, "rows", sc.Rows)
	}
	return out, firstErr
}

func (s *Schedule) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// Start runs the schedule in the background, and first, beside it, the run
// missed while the schedule was not running, if any.
func (s *Schedule) Start() error {
	if s.Spec == "" {
		return nil
	}
	s.c = cron.New(cron.WithLocation(model.Local), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	_, err := s.c.AddFunc(s.Spec, func() { s.RunMonthly(context.Background(), s.now()) })
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.catchUp.Go(func() {
		if _, err := s.CatchUp(ctx); err != nil && ctx.Err() == nil {
			s.logger().Error("catching up a missed scheduled run", "err", err)
		}
	})
	s.c.Start()
	return nil
}

// Stop ends a catch-up still waiting for the marts and waits for a running
// report to finish.
func (s *Schedule) Stop() {
	if s.stop != nil {
		s.stop()
		s.catchUp.Wait()
	}
	if s.c != nil {
		<-s.c.Stop().Done()
	}
}
