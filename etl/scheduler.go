package etl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Default schedules: incremental every minute, a full rebuild nightly at
// 02:00 China time (dictionary changes reach old days then).
const (
	DefaultIncremental = "@every 1m"
	DefaultFull        = "0 2 * * *"
	DefaultDebounce    = 500 * time.Millisecond
)

// Scheduler runs the marts on cron schedules inside the service. Runs never
// overlap: the runner refuses a second one, and a schedule firing while its
// previous run still goes is skipped. A failed run is retried twice, a few
// seconds apart, and then waits for its next turn; every failure is in the
// run log, the log and the metrics.
type Scheduler struct {
	Runner      *Runner
	Incremental string // cron spec
	Full        string // cron spec
	Logger      *slog.Logger
	// RetryDelay is the wait before the first retry of a failed run.
	RetryDelay time.Duration
	// Debounce is how quiet the relay must be, after a Nudge, before the
	// live incremental run starts; under a steady stream a run starts at
	// the latest 4 × Debounce after the first nudge. 0: DefaultDebounce.
	Debounce time.Duration

	nudges  chan struct{}
	c       *cron.Cron
	ctx     context.Context
	cancel  context.CancelFunc
	running sync.WaitGroup
}

// ParseSpec validates a cron spec the way the scheduler reads it.
func ParseSpec(spec string) error {
	_, err := cron.ParseStandard(spec)
	return err
}

// Start begins firing; Stop ends it.
func (s *Scheduler) Start() error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Incremental == "" {
		s.Incremental = DefaultIncremental
	}
	if s.Full == "" {
		s.Full = DefaultFull
	}
	if s.RetryDelay <= 0 {
		s.RetryDelay = 5 * time.Second
	}
	loc, err := time.LoadLocation(Local)
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	if s.Debounce <= 0 {
		s.Debounce = DefaultDebounce
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.nudges == nil {
		s.nudges = make(chan struct{}, 1)
	}
	s.running.Add(1)
	go s.live()
	s.Nudge() // a new service builds its marts now, not at the first cron minute
	s.c = cron.New(cron.WithLocation(loc), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	if _, err := s.c.AddFunc(s.Incremental, func() { s.fire(Options{Job: "incremental"}) }); err != nil {
		return fmt.Errorf("incremental schedule %q: %w", s.Incremental, err)
	}
	if _, err := s.c.AddFunc(s.Full, func() { s.fire(Options{Job: "nightly", Full: true}) }); err != nil {
		return fmt.Errorf("full schedule %q: %w", s.Full, err)
	}
	s.c.Start()
	return nil
}

func (s *Scheduler) fire(opt Options) {
	s.running.Add(1)
	defer s.running.Done()
	delay := s.RetryDelay
	for attempt := 0; attempt < 3; attempt++ {
		_, err := s.Runner.Run(s.ctx, opt)
		switch {
		case err == nil:
			return
		case errors.Is(err, ErrBusy):
			s.Logger.Debug("etl run skipped: another is in progress", "job", opt.Job)
			return
		case s.ctx.Err() != nil:
			return
		}
		s.Logger.Error("etl run failed", "job", opt.Job, "attempt", attempt+1, "err", err)
		select {
		case <-time.After(delay):
		case <-s.ctx.Done():
			return
		}
		delay *= 2
	}
}

// Nudge asks for an incremental run soon: the relay calls it when it has
// shipped new events. Nudges coalesce; it never blocks.
func (s *Scheduler) Nudge() {
	if s.nudges == nil {
		return
	}
	select {
	case s.nudges <- struct{}{}:
	default:
	}
}

// live runs the marts incrementally after nudges, debounced, so that a
// committed change is on the dashboards within seconds instead of at the
// next minute. Its runs never overlap each other; one that meets a
// scheduled run in progress waits and tries again, so no nudge is lost.
func (s *Scheduler) live() {
	defer s.running.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.nudges:
		}
		quiet := time.NewTimer(s.Debounce)
		latest := time.NewTimer(4 * s.Debounce)
	collect:
		for {
			select {
			case <-s.nudges:
				quiet.Reset(s.Debounce)
			case <-quiet.C:
				break collect
			case <-latest.C:
				break collect
			case <-s.ctx.Done():
				quiet.Stop()
				latest.Stop()
				return
			}
		}
		quiet.Stop()
		latest.Stop()
		for {
			_, err := s.Runner.Run(s.ctx, Options{Job: "live"})
			if errors.Is(err, ErrBusy) {
				select {
				case <-time.After(s.Debounce):
					continue
				case <-s.ctx.Done():
					return
				}
			}
			if err != nil && s.ctx.Err() == nil {
				s.Logger.Error("etl live run failed", "err", err)
			}
			break
		}
	}
}

// Stop stops firing and waits for a run in progress to end (it is
// cancelled; its partial work is never swapped in).
func (s *Scheduler) Stop() {
	if s.c == nil {
		return
	}
	s.cancel()
	<-s.c.Stop().Done()
	s.running.Wait()
}
