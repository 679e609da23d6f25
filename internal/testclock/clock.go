// Package testclock is a settable clock for tests that drive the lifecycle
// through simulated time (appointment days, token expiry, record deadlines).
package testclock

import (
	"sync"
	"time"
)

// Clock is safe for concurrent use; its Now is what DB.Now is set to.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

func (c *Clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *Clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
