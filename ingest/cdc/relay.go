// Package cdc is the relay that ships the core's outbox into the warehouse:
// it reads committed events in seq order, builds Arrow record batches (the
// envelope plus the typed rows of each entity), appends them to the
// warehouse, and then advances the checkpoint in the core. Delivery is
// at-least-once and every warehouse append is idempotent, so the effect is
// exactly-once. The three stages (read, build, append) run in their own
// goroutines so that the SQLite read, the JSON decode and the warehouse write
// overlap on both cores.
//
// It also owns the two operator procedures around the relay: replaying dead
// letters and rebuilding a warehouse from the core (snapshot plus replay).
package cdc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-retry"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
)

// Outbox is what the relay needs of the core (store.DB implements it).
type Outbox interface {
	ReadOutbox(ctx context.Context, after int64, limit int, buf []model.ChangeEvent) ([]model.ChangeEvent, error)
	OutboxHead(ctx context.Context) (int64, error)
	OutboxOldestAfter(ctx context.Context, seq int64) (time.Time, error)
	Checkpoint(ctx context.Context) (store.CDCCheckpoint, error)
	SaveCheckpoint(ctx context.Context, warehouseID string, seq int64) error
	PruneOutbox(ctx context.Context, before time.Time) (int64, error)
	Snapshot(ctx context.Context, fn func(model.ChangeEvent) error) (head, prunedThrough int64, err error)
	// Namespace is the core's (model.NamespaceBits): its relay resumes
	// after the warehouse's high water of that namespace, whatever other
	// cores have landed beside it.
	Namespace() int64
}

var _ Outbox = (*store.DB)(nil)

// Defaults of the relay's settings.
const (
	DefaultBatchSize     = 20000
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultRetention     = 7 * 24 * time.Hour
	DefaultPruneEvery    = time.Minute
	DefaultMaxBackoff    = 30 * time.Second
)

// ErrNeedsRebuild is returned when the warehouse lacks events the outbox no
// longer holds: only a rebuild (snapshot plus replay) can fill it.
var ErrNeedsRebuild = errors.New("the warehouse is missing events that were already pruned from the outbox: run `zhiliao warehouse rebuild`")

// Relay ships the outbox to the warehouse. Set the fields, then call Run (a
// loop until ctx ends) or Drain (until caught up, for `zhiliao relay --once`).
type Relay struct {
	Core      Outbox
	Warehouse warehouse.Warehouse

	// BatchSize is the most events one append carries.
	BatchSize int
	// FlushInterval is how long the reader waits after catching up before it
	// looks again: the longest an event waits to be shipped when the relay
	// is idle.
	FlushInterval time.Duration
	// Retention is how long checkpointed events stay in the outbox; 0 keeps
	// them forever.
	Retention  time.Duration
	PruneEvery time.Duration
	// MinBackoff and MaxBackoff bound the exponential wait between retries
	// when the warehouse or the core fails.
	MinBackoff, MaxBackoff time.Duration

	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time

	// Fault points for the crash tests: an error returned here aborts the
	// run at that point as a crash would.
	BeforeAppend     func(*warehouse.Batch) error
	BeforeCheckpoint func(*warehouse.Batch) error

	// OnShipped, when set, is told the last seq of every batch the
	// warehouse now holds: the service nudges the marts with it, so a
	// committed change reaches the dashboards in seconds.
	OnShipped func(lastSeq int64)

	shipped atomic.Int64 // the last seq the warehouse holds
}

func (r *Relay) defaults() {
	if r.BatchSize <= 0 {
		r.BatchSize = DefaultBatchSize
	}
	if r.FlushInterval <= 0 {
		r.FlushInterval = DefaultFlushInterval
	}
	if r.PruneEvery <= 0 {
		r.PruneEvery = DefaultPruneEvery
	}
	if r.MinBackoff <= 0 {
		r.MinBackoff = 100 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultMaxBackoff
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	r.Logger = r.Logger.With("component", "relay")
	if r.Metrics == nil {
		r.Metrics = NewMetrics()
	}
	if r.Now == nil {
		r.Now = time.Now
	}
}

// Shipped is the last seq the warehouse is known to hold.
func (r *Relay) Shipped() int64 { return r.shipped.Load() }

// resume decides where the relay starts: after the warehouse's own high
// water (what it holds is the truth, whatever the checkpoint says), provided
// the outbox still holds everything after it.
func (r *Relay) resume(ctx context.Context) (int64, error) {
	hw, err := warehouse.HighWater(ctx, r.Warehouse, r.Core.Namespace())
	if err != nil {
		return 0, fmt.Errorf("warehouse high water: %w", err)
	}
	cp, err := r.Core.Checkpoint(ctx)
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	if hw < cp.PrunedThrough {
		return 0, fmt.Errorf("warehouse %s holds events up to seq %d, the outbox was pruned through %d: %w", r.Warehouse.ID(), hw, cp.PrunedThrough, ErrNeedsRebuild)
	}
	if cp.WarehouseID != r.Warehouse.ID() || cp.Seq != hw {
		if err := r.Core.SaveCheckpoint(ctx, r.Warehouse.ID(), hw); err != nil {
			return 0, err
		}
	}
	r.shipped.Store(hw)
	return hw, nil
}

// Run ships events until ctx ends, retrying with backoff through warehouse
// and core failures. It returns nil when ctx ends, or an error the relay
// cannot get past by waiting (ErrNeedsRebuild, or a failing fault hook).
func (r *Relay) Run(ctx context.Context) error { return r.run(ctx, 0) }

// Drain ships every event committed before it started and returns.
func (r *Relay) Drain(ctx context.Context) error { return r.run(ctx, -1) }

// DrainTo ships the events up to seq (or up to the head, if it is lower)
// and returns: for replaying a history step by step.
func (r *Relay) DrainTo(ctx context.Context, seq int64) error { return r.run(ctx, seq) }

type readBatch struct {
	events []model.ChangeEvent
}

// run ships until ctx ends (upto 0), up to the head (upto < 0), or up to
// seq upto.
func (r *Relay) run(ctx context.Context, upto int64) error {
	r.defaults()
	var pos int64
	if err := r.retry(ctx, "resume", func(ctx context.Context) (err error) {
		pos, err = r.resume(ctx)
		if errors.Is(err, ErrNeedsRebuild) {
			return err
		}
		return retry.RetryableError(err)
	}); err != nil {
		return err
	}
	target := int64(-1)
	if upto != 0 {
		head, err := r.Core.OutboxHead(ctx)
		if err != nil {
			return err
		}
		target = head
		if upto > 0 && upto < head {
			target = upto
		}
		if pos >= target {
			return nil
		}
	}
	r.Logger.Info("relay started", "warehouse", r.Warehouse.ID(), "engine", r.Warehouse.Engine(), "from_seq", pos, "batch", r.BatchSize)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Two event buffers circulate between the reader and the builder, so the
	// reader fills one while the builder decodes the other.
	free := make(chan *readBatch, 2)
	free <- &readBatch{}
	free <- &readBatch{}
	toBuild := make(chan *readBatch, 1)
	toAppend := make(chan *warehouse.Batch, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); defer close(toBuild); r.read(ctx, pos, target, free, toBuild) }()
	go func() { defer wg.Done(); defer close(toAppend); r.build(ctx, free, toBuild, toAppend) }()
	err := r.appendLoop(ctx, toAppend, target)
	cancel()
	for b := range toAppend { // let the builder finish and free what it built
		b.Release()
	}
	wg.Wait()
	if ctx.Err() != nil && err == nil {
		return nil
	}
	return err
}

// read is the first stage: outbox events in seq order, in batches.
func (r *Relay) read(ctx context.Context, pos, target int64, free chan *readBatch, out chan<- *readBatch) {
	for {
		var rb *readBatch
		select {
		case rb = <-free:
		case <-ctx.Done():
			return
		}
		limit := r.BatchSize
		if target >= 0 && target-pos < int64(limit) {
			limit = int(target - pos)
		}
		var err error
		began := time.Now()
		rb.events, err = r.Core.ReadOutbox(ctx, pos, limit, rb.events[:0])
		r.Metrics.stageSeconds.WithLabelValues("read").Observe(time.Since(began).Seconds())
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.Metrics.errors.WithLabelValues("read").Inc()
			r.Logger.Warn("outbox read failed", "err", err)
			if !sleep(ctx, r.MinBackoff) {
				return
			}
		}
		if target >= 0 { // gaps (pruned rows) can carry a read past the target
			for len(rb.events) > 0 && rb.events[len(rb.events)-1].Seq > target {
				rb.events = rb.events[:len(rb.events)-1]
			}
		}
		if len(rb.events) > 0 {
			pos = rb.events[len(rb.events)-1].Seq
			select {
			case out <- rb:
			case <-ctx.Done():
				return
			}
			if target >= 0 && pos >= target {
				return
			}
			if len(rb.events) == limit {
				continue // more is waiting: read on at once
			}
		} else {
			select {
			case free <- rb: // unused: hand it back
			default:
			}
		}
		if !sleep(ctx, r.FlushInterval) {
			return
		}
	}
}

// build is the second stage: events into Arrow batches.
func (r *Relay) build(ctx context.Context, free chan<- *readBatch, in <-chan *readBatch, out chan<- *warehouse.Batch) {
	bb := warehouse.NewBatchBuilder()
	defer bb.Release()
	for rb := range in {
		began := time.Now()
		for i := range rb.events {
			bb.Add(&rb.events[i])
		}
		b := bb.Build()
		b.Namespace = r.Core.Namespace()
		r.Metrics.stageSeconds.WithLabelValues("build").Observe(time.Since(began).Seconds())
		free <- rb
		select {
		case out <- b:
		case <-ctx.Done():
			b.Release()
			return
		}
	}
}

// appendLoop is the last stage: append, then checkpoint, in seq order.
func (r *Relay) appendLoop(ctx context.Context, in <-chan *warehouse.Batch, target int64) error {
	lastPrune := time.Time{}
	for b := range in {
		err := r.ship(ctx, b)
		b.Release()
		if err != nil {
			return err
		}
		if r.Retention > 0 && time.Since(lastPrune) >= r.PruneEvery {
			lastPrune = time.Now()
			n, err := r.Core.PruneOutbox(ctx, r.Now().Add(-r.Retention))
			if err != nil && ctx.Err() == nil {
				r.Metrics.errors.WithLabelValues("prune").Inc()
				r.Logger.Warn("outbox prune failed", "err", err)
			}
			r.Metrics.pruned.Add(float64(n))
		}
		if target >= 0 && r.shipped.Load() >= target {
			return nil
		}
	}
	return nil
}

func (r *Relay) ship(ctx context.Context, b *warehouse.Batch) error {
	if r.BeforeAppend != nil {
		if err := r.BeforeAppend(b); err != nil {
			return err
		}
	}
	began := time.Now()
	if err := r.retry(ctx, "append", func(ctx context.Context) error {
		return retry.RetryableError(r.Warehouse.Append(ctx, b))
	}); err != nil {
		return err
	}
	r.Metrics.stageSeconds.WithLabelValues("append").Observe(time.Since(began).Seconds())
	if r.BeforeCheckpoint != nil {
		if err := r.BeforeCheckpoint(b); err != nil {
			return err
		}
	}
	r.shipped.Store(b.LastSeq)
	if r.OnShipped != nil {
		r.OnShipped(b.LastSeq)
	}
	n := b.Len()
	r.Metrics.events.Add(float64(n))
	r.Metrics.batchSize.Observe(float64(n))
	r.Metrics.deadLetters.Add(float64(len(b.DeadLetters)))
	for _, d := range b.DeadLetters {
		r.Logger.Error("event dead-lettered", "seq", d.Seq, "entity", d.Entity, "entity_id", d.EntityID, "reason", d.Reason)
	}
	// The warehouse's high water already says the batch landed; a failed
	// checkpoint only delays pruning, so it is logged and not retried here.
	if err := r.Core.SaveCheckpoint(ctx, r.Warehouse.ID(), b.LastSeq); err != nil && ctx.Err() == nil {
		r.Metrics.errors.WithLabelValues("checkpoint").Inc()
		r.Logger.Warn("checkpoint failed", "seq", b.LastSeq, "err", err)
	}
	return nil
}

// retry runs fn with capped exponential backoff and jitter until it
// succeeds, returns a non-retryable error, or ctx ends.
func (r *Relay) retry(ctx context.Context, stage string, fn func(ctx context.Context) error) error {
	b := retry.WithCappedDuration(r.MaxBackoff, retry.WithJitterPercent(20, retry.NewExponential(r.MinBackoff)))
	attempt := 0
	return retry.Do(ctx, b, func(ctx context.Context) error {
		err := fn(ctx)
		var re interface{ Unwrap() error }
		if err != nil && errors.As(err, &re) && ctx.Err() == nil {
			attempt++
			r.Metrics.errors.WithLabelValues(stage).Inc()
			r.Logger.Warn("relay stage failed, retrying", "stage", stage, "attempt", attempt, "err", re.Unwrap())
		}
		return err
	})
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
