// Package warehouse owns the contract of the analytics store: the landing
// table of CDC events, the typed raw tables that keep every version of every
// entity, the views that read them as latest-version-per-id, dead letters, the
// batch log that says how far the warehouse is filled, and query results as
// Apache Arrow record readers. The engines live in the subpackages duckdb
// (embedded default) and clickhouse; both pass one contract suite
// (warehousetest).
//
// It imports model, policy (whose masks its engines spell) and the Arrow library only; the relay (ingest/cdc), the ETL
// and the API depend on it, never the other way round.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/zhiliao/zhiliao/policy"
)

// Warehouse is an analytics store the relay fills and the ETL reads.
type Warehouse interface {
	// Engine names the implementation: "duckdb" or "clickhouse".
	Engine() string
	// SQL spells policy's de-identification masks in this engine's SQL
	// (policy.MaskNameSQL, …), so a query can mask in place.
	SQL() policy.SQL
	// ID identifies this warehouse's contents: it is generated when the
	// schema is first created and again by Reset, so a relay checkpoint taken
	// against one warehouse is never applied to another.
	ID() string

	// Append lands a batch: its events, raw rows and dead letters. It is
	// idempotent: appending a batch again, whole or after a partial first
	// attempt, leaves what readers see unchanged.
	Append(ctx context.Context, b *Batch) error
	// HighWaters is, per namespace (model.NamespaceOf its seqs: one core
	// each, 0 for a core without one), the last seq of the last batch of it
	// that landed completely. A namespace with nothing landed is absent. A
	// relay resumes after its core's.
	HighWaters(ctx context.Context) (map[int64]int64, error)

	// DeadLetters lists unresolved dead letters, oldest first.
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// ResolveDeadLetters records that these dead letters were replayed.
	ResolveDeadLetters(ctx context.Context, seqs []int64) error

	// Query runs SQL of this engine and streams the result as Arrow records.
	// The caller releases the reader.
	Query(ctx context.Context, query string, args ...any) (array.RecordReader, error)
	// Exec runs SQL of this engine that returns no rows.
	Exec(ctx context.Context, query string, args ...any) error
	// ExecAtomic runs statements in order as one unit where the engine has
	// transactions (DuckDB: all or nothing); on ClickHouse they simply run
	// in order, and callers make each step safe to repeat.
	ExecAtomic(ctx context.Context, stmts ...string) error

	// Reset drops every table and view and recreates an empty schema with a
	// new ID: the first step of a rebuild.
	Reset(ctx context.Context) error
	// ResetNamespace removes every landed row of one namespace (one core of
	// a regional warehouse: its events, batch log, dead letters, raw and
	// current rows) and leaves the other cores' rows and the ID as they are:
	// the first step of rebuilding one hospital from its core. The marts
	// still hold what they were built from until a full ETL run.
	ResetNamespace(ctx context.Context, ns int64) error
	Close() error
}

type relandKey struct{}

// Reland marks the appends under the returned context as rows the
// warehouse held before and lost to ResetNamespace, sent again by a
// rebuild. An engine that drops an insert identical to one it took before
// (replicated ClickHouse keeps the hashes of recent blocks in ZooKeeper and
// drops a repeat, which makes redelivery safe) must take these: the rows
// they repeat are gone.
func Reland(ctx context.Context) context.Context { return context.WithValue(ctx, relandKey{}, true) }

// Relanding says whether ctx came from Reland.
func Relanding(ctx context.Context) bool { return ctx.Value(relandKey{}) != nil }

// Batch is what the relay appends in one step. Events holds the envelopes of
// every event in (FirstSeq, LastSeq] that decoded; Raw holds, per entity, the
// typed rows of those events (the rows of a snapshot carry seq 0); DeadLetters
// the events of the range that could not be decoded.
type Batch struct {
	FirstSeq, LastSeq int64 // the outbox range this batch covers, inclusive
	Events            arrow.Record
	Raw               map[string]arrow.Record
	DeadLetters       []DeadLetter
	// Snapshot marks rows of a rebuild snapshot (seq 0): they are not outbox
	// events, land in raw tables only and do not move the high water.
	Snapshot bool
	// Namespace is the core's whose batch this is (model.NamespaceBits): a
	// cluster keeps each namespace on one shard. The relay sets it.
	Namespace int64
}

// Sharded is a warehouse whose rows live on several shards, each holding
// whole namespaces: marts are built shard by shard, each from its own
// shard's rows (clickhouse.Cluster).
type Sharded interface {
	Shards() []Warehouse
}

// Len is the number of events the batch covers.
func (b *Batch) Len() int {
	n := len(b.DeadLetters)
	if b.Events != nil {
		n += int(b.Events.NumRows())
	}
	return n
}

// Release releases the batch's Arrow records.
func (b *Batch) Release() {
	if b.Events != nil {
		b.Events.Release()
	}
	for _, r := range b.Raw {
		r.Release()
	}
}

// DeadLetter is an outbox event the warehouse could not take (bad JSON, an
// unknown entity or field, a value of the wrong type), kept with the reason so
// that the events behind it move on and an operator can replay it once the
// cause is fixed.
type DeadLetter struct {
	Seq           int64
	Entity        string
	EntityID      int64
	Op            string
	Version       int64
	OccurredAt    time.Time
	TxID          int64
	InstitutionID int64
	Payload       string
	Reason        string
	FailedAt      time.Time
}

// ErrLocked is returned when another process holds the embedded warehouse
// file: commands that need it go through the running server instead.
var ErrLocked = errors.New("the warehouse file is held by another zhiliao process (is `zhiliao serve` running?): stop it first, or let the server do this work")

// HighWater is the high water of namespace ns: the last seq of its last batch
// that landed completely, 0 when none has.
func HighWater(ctx context.Context, w Warehouse, ns int64) (int64, error) {
	if one, ok := w.(interface {
		HighWaterOf(ctx context.Context, ns int64) (int64, error)
	}); ok {
		return one.HighWaterOf(ctx, ns)
	}
	hws, err := w.HighWaters(ctx)
	return hws[ns], err
}

// Head is the highest seq landed of any namespace: how far a warehouse fed by
// one core is filled.
func Head(hws map[int64]int64) int64 {
	var head int64
	for _, hw := range hws {
		head = max(head, hw)
	}
	return head
}

// UnavailableError says that a query needs rows of shards that answer from
// no replica: it names them and the namespaces (cores) they hold, so that
// the answer can name the institutions whose figures are missing instead of
// returning partial totals as if complete.
type UnavailableError struct {
	Shards     []int   // 1-based, as in <remote_servers>
	Namespaces []int64 // the cores' namespaces on those shards, as far as known
	Err        error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("warehouse shards %v are unavailable (namespaces %v): %v", e.Shards, e.Namespaces, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

type namespacesKey struct{}

// WithNamespaces tells a sharded warehouse that a query reads only these
// namespaces' rows: it may then answer while shards that hold none of them
// are down. Without it a query needs every shard.
func WithNamespaces(ctx context.Context, nss []int64) context.Context {
	return context.WithValue(ctx, namespacesKey{}, nss)
}

// NamespacesFrom is what WithNamespaces put in ctx (nil: every namespace).
func NamespacesFrom(ctx context.Context) []int64 {
	nss, _ := ctx.Value(namespacesKey{}).([]int64)
	return nss
}

// ScanHighWaters reads rows of (namespace, last seq), as both engines'
// HighWaters query them.
func ScanHighWaters(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}) (map[int64]int64, error) {
	out := map[int64]int64{}
	for rows.Next() {
		var ns, hw int64
		if err := rows.Scan(&ns, &hw); err != nil {
			return nil, err
		}
		out[ns] = hw
	}
	return out, rows.Err()
}
