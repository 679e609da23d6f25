package etl

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// stampTTL bounds how long a run by another process (`zhiliao etl run`)
// goes unnoticed by cached responses; runs of this process are seen at once.
const stampTTL = 2 * time.Second

// stampCache is read on every API request: readers load a snapshot
// without locking; one refresher at a time replaces it.
type stampCache struct {
	mu   sync.Mutex
	snap atomic.Pointer[stampSnapshot]
}

type stampSnapshot struct {
	stamps map[string]int64
	at     time.Time
}

func (c *stampCache) invalidate() { c.snap.Store(nil) }

// Stamp identifies the state of a mart's rows: the outbox seq its last good
// run was built up to (0 before any). Rows change only when it does, so a
// response computed from the mart stays valid (and its ETag) while the stamp
// holds.
func (r *Runner) Stamp(ctx context.Context, mart string) (int64, error) {
	if s := r.stamps.snap.Load(); s != nil && time.Since(s.at) <= stampTTL {
		return s.stamps[mart], nil
	}
	r.stamps.mu.Lock()
	defer r.stamps.mu.Unlock()
	if s := r.stamps.snap.Load(); s == nil || time.Since(s.at) > stampTTL {
		d, err := r.dialect()
		if err != nil {
			return 0, err
		}
		if err := r.ensureSchemaLocked(ctx, d); err != nil {
			return 0, err
		}
		// Each shard's progress grows on its own: their sum moves whenever
		// any shard's marts change.
		rows, err := r.query(ctx, "SELECT mart, "+d.int64("sum(w)")+" FROM (SELECT mart, shard, max(watermark) AS w FROM etl_runs WHERE status = 'ok' GROUP BY mart, shard) s GROUP BY mart")
		if err != nil {
			return 0, err
		}
		m := make(map[string]int64, len(rows))
		for _, row := range rows {
			w, _ := row[1].(int64)
			m[row[0].(string)] = w
		}
		r.stamps.snap.Store(&stampSnapshot{stamps: m, at: time.Now()})
	}
	return r.stamps.snap.Load().stamps[mart], nil
}

// Live is what an open dashboard polls every few seconds: the highest
// watermark any mart was built up to and when that event was committed.
// It costs no warehouse query while the stamps are cached and the
// watermark has not moved, unlike Freshness (seven queries).
type Live struct {
	Watermark int64     `json:"watermark"`
	DataAsOf  time.Time `json:"data_as_of,omitempty"`
}

// liveAsOf remembers the commit time of the last watermark asked about.
type liveAsOf struct {
	mu        sync.Mutex
	watermark int64
	at        time.Time
}

// Live reports the marts' common stamp for polling pages.
func (r *Runner) Live(ctx context.Context) (Live, error) {
	var out Live
	for _, m := range Marts {
		w, err := r.Stamp(ctx, m.Name)
		if err != nil {
			return Live{}, err
		}
		out.Watermark = max(out.Watermark, w)
	}
	if out.Watermark == 0 {
		return out, nil
	}
	r.asOf.mu.Lock()
	defer r.asOf.mu.Unlock()
	if r.asOf.watermark != out.Watermark {
		// The run that reached the watermark says how far, per namespace.
		rows, err := r.query(ctx, "SELECT watermark, watermarks FROM etl_runs WHERE status = 'ok' ORDER BY watermark DESC, seq DESC LIMIT 1")
		if err != nil {
			return Live{}, err
		}
		var at time.Time
		if len(rows) == 1 {
			legacy, _ := rows[0][0].(int64)
			text, _ := rows[0][1].(string)
			w, err := parseWatermarks(text, legacy)
			if err != nil {
				return Live{}, err
			}
			if at, err = r.committedAt(ctx, w); err != nil {
				return Live{}, err
			}
		}
		r.asOf.watermark, r.asOf.at = out.Watermark, at
	}
	out.DataAsOf = r.asOf.at
	return out, nil
}
