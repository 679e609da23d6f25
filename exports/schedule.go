package exports

import (
	"context"
	"log/slog"
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
// reports folder (the quality office's monthly set).
type Schedule struct {
	Manager *Manager
	Spec    string // cron, China time; "" disables
	// Dims lists the departments (etl.Runner).
	Dims   func(ctx context.Context) (*etl.Dims, error)
	Logger *slog.Logger

	c *cron.Cron
}

// LastMonth is the first and last day of the month before t (China time).
func LastMonth(t time.Time) (string, string) {
	t = t.In(model.Local)
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, model.Local)
	return first.AddDate(0, -1, 0).Format("2006-01-02"), first.AddDate(0, 0, -1).Format("2006-01-02")
}

// RunMonthly writes the monthly reports for the month before now.
func (s *Schedule) RunMonthly(ctx context.Context, now time.Time) ([]Scheduled, error) {
	dims, err := s.Dims(ctx)
	if err != nil {
		return nil, err
	}
	p := reports.Params{By: "定时任务 schedule"}
	p.From, p.To = LastMonth(now)
	for _, d := range dims.Departments {
		p.Depts, p.DeptNames = append(p.Depts, d.ID), append(p.DeptNames, d.Name)
	}
	var out []Scheduled
	var firstErr error
	for _, id := range MonthlyReports {
		sc, err := s.Manager.RunScheduled(ctx, reports.ReportByID(id), p)
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

// Start runs the schedule in the background.
func (s *Schedule) Start() error {
	if s.Spec == "" {
		return nil
	}
	s.c = cron.New(cron.WithLocation(model.Local), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	_, err := s.c.AddFunc(s.Spec, func() { s.RunMonthly(context.Background(), time.Now()) })
	if err != nil {
		return err
	}
	s.c.Start()
	return nil
}

// Stop waits for a running report to finish.
func (s *Schedule) Stop() {
	if s.c != nil {
		<-s.c.Stop().Done()
	}
}
