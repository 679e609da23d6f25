package store

import (
	"context"
	"sync"
	"time"
)

// Partition is one writer's share of a core that several writers fill at
// once and must fill the same way every time: the parallel generator's
// workers, one per department. A write whose context carries a partition
// (WithPartition) reads the partition's clock instead of the core's, and
// gives its new rows ids, and its receipts numbers, from the partition's own
// range instead of the database's sequences. So the rows, their ids and every
// reference between them depend on that writer's work alone, never on how
// the writers' commits interleave; only the outbox's seq and tx_id, which
// record that interleaving, differ from run to run.
type Partition struct {
	now  func() time.Time
	base int64

	mu   sync.Mutex
	next map[string]int64 // table (or "receipt") → the last number given
}

// NewPartition is a partition whose numbers start above base, with the
// clock now.
func NewPartition(base int64, now func() time.Time) *Partition {
	return &Partition{now: now, base: base, next: map[string]int64{}}
}

type partitionKey struct{}

// WithPartition returns a context whose writes are p's.
func WithPartition(ctx context.Context, p *Partition) context.Context {
	return context.WithValue(ctx, partitionKey{}, p)
}

func partitionFrom(ctx context.Context) *Partition {
	p, _ := ctx.Value(partitionKey{}).(*Partition)
	return p
}

// number gives the next number of the counter name.
func (p *Partition) number(name string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next[name]++
	return p.base + p.next[name]
}

// nowFor is the clock of a write made with ctx.
func (db *DB) nowFor(ctx context.Context) time.Time {
	if p := partitionFrom(ctx); p != nil {
		return p.now()
	}
	return db.Now()
}

// receiptNumber is a number for a receipt no other transaction gets: the
// partition's next, or a value of the outbox sequence.
func (tx *Tx) receiptNumber() (int64, error) {
	if p := partitionFrom(tx.ctx); p != nil {
		return p.number("receipt"), nil
	}
	return tx.sequenceNumber()
}
