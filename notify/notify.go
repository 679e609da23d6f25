// Package notify owns getting the queued notices (appointment, precautions,
// reminders, 停诊) to patients: one Channel interface that SMS or WeChat
// gateways implement, a signed webhook as the built-in channel, and the
// Dispatcher that tries each due notice, records every attempt in the
// delivery log, backs off between attempts and gives up after the last
// (a dead letter). Delivery is at least once: a process that dies between
// a delivery and its record delivers the notice again, with the same notice
// id, by which receivers deduplicate. A notice of a level its patient opted
// out of is withheld, never sent. The patient page's inbox shows every
// notice whatever its delivery; it needs no channel.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// Channel delivers one notice. A nil error means the gateway took it; any
// error means it did not, and it will be tried again.
type Channel interface {
	Name() string
	Deliver(ctx context.Context, n model.OutgoingNotice) error
}

// Store is what the dispatcher needs from the core.
type Store interface {
	// WithholdOptedOut sets aside the queued notices of levels their
	// patients opted out of.
	WithholdOptedOut(ctx context.Context) (int, error)
	DueNotifications(ctx context.Context, backoff func(attempts int64) time.Duration, limit int) ([]model.OutgoingNotice, error)
	RecordDelivery(ctx context.Context, id int64, channel string, ok bool, errText string, maxAttempts int64) (*model.Notification, error)
}

// Dispatcher delivers due notices through one channel.
type Dispatcher struct {
	Store   Store
	Channel Channel
	Logger  *slog.Logger
	// MaxAttempts is how many attempts a notice gets before it is dead
	// (default 6: with the default backoff, about an hour of trying).
	MaxAttempts int64
	// Backoff is the wait after a notice's n-th failed attempt (default
	// DefaultBackoff).
	Backoff func(attempts int64) time.Duration
	// Timeout bounds one delivery (default 10 s).
	Timeout time.Duration
}

// DefaultBackoff waits 30 s after the first failure and doubles, up to 30 min.
func DefaultBackoff(attempts int64) time.Duration {
	d := 30 * time.Second
	for i := int64(1); i < attempts && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

// Result counts what one pass did.
type Result struct{ Sent, Failed, Dead, Withheld int }

func (d *Dispatcher) defaults() {
	if d.MaxAttempts <= 0 {
		d.MaxAttempts = 6
	}
	if d.Backoff == nil {
		d.Backoff = DefaultBackoff
	}
	if d.Timeout <= 0 {
		d.Timeout = 10 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
}

// Once tries every notice due now, one after another, and records each
// attempt. It stops early only when ctx ends or the store fails.
func (d *Dispatcher) Once(ctx context.Context) (Result, error) {
	d.defaults()
	var r Result
	var err error
	if r.Withheld, err = d.Store.WithholdOptedOut(ctx); err != nil {
		return r, err
	}
	for {
		due, err := d.Store.DueNotifications(ctx, d.Backoff, 200)
		if err != nil || len(due) == 0 {
			return r, err
		}
		progressed := false
		for _, n := range due {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			dctx, cancel := context.WithTimeout(ctx, d.Timeout)
			derr := d.Channel.Deliver(dctx, n)
			cancel()
			if derr != nil && ctx.Err() != nil {
				return r, ctx.Err() // shutting down: not the notice's failure
			}
			msg := ""
			if derr != nil {
				msg = truncate(derr.Error(), 500)
			}
			after, err := d.Store.RecordDelivery(ctx, n.ID, d.Channel.Name(), derr == nil, msg, d.MaxAttempts)
			if err != nil {
				return r, fmt.Errorf("notice %d: %w", n.ID, err)
			}
			switch after.Status {
			case model.NotifySent:
				r.Sent++
				progressed = true
			case model.NotifyDead:
				r.Dead++
				d.Logger.Warn("notice dead after its last attempt", "notice", n.ID, "attempts", after.Attempts, "err", msg)
			default:
				r.Failed++
			}
		}
		if !progressed {
			// Everything due failed: the rest waits for its backoff
			// rather than being hammered in a loop.
			return r, nil
		}
	}
}

// Run delivers due notices every interval until ctx ends.
func (d *Dispatcher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if r, err := d.Once(ctx); err != nil && !errors.Is(err, context.Canceled) {
			d.Logger.Error("notice delivery", "err", err)
		} else if r != (Result{}) {
			d.Logger.Info("notices", "sent", r.Sent, "failed", r.Failed, "dead", r.Dead, "withheld", r.Withheld)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") // never half a character
}
