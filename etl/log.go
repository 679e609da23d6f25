package etl

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// Runs lists the latest runs, newest first.
func (r *Runner) Runs(ctx context.Context, limit int) ([]Result, error) {
	d, err := r.dialect()
	if err != nil {
		return nil, err
	}
	if err := r.ensureSchemaLocked(ctx, d); err != nil {
		return nil, err
	}
	rows, err := r.query(ctx, `SELECT mart, job, full_rebuild, status, days, rows, watermark, error, started_at, finished_at, watermarks, shard
FROM etl_runs ORDER BY seq DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(rows))
	for _, row := range rows {
		res := Result{Mart: row[0].(string), Job: row[1].(string), Status: row[3].(string),
			Days: row[4].(int64), Rows: row[5].(int64), Watermark: row[6].(int64), Error: row[7].(string),
			StartedAt: row[8].(time.Time), Finished: row[9].(time.Time)}
		res.Shard, _ = row[11].(int64)
		text, _ := row[10].(string)
		if res.Watermarks, err = parseWatermarks(text, res.Watermark); err != nil {
			return nil, err
		}
		switch v := row[2].(type) {
		case bool:
			res.Full = v
		case int64:
			res.Full = v != 0
		}
		out = append(out, res)
	}
	return out, nil
}

// Freshness is how current one mart is.
type Freshness struct {
	Mart        string    `json:"mart"`
	Title       string    `json:"title"`
	LastSuccess time.Time `json:"last_success,omitempty"` // when its last good run finished
	Watermark   int64     `json:"watermark"`              // the outbox seq it was built up to
	DataAsOf    time.Time `json:"data_as_of,omitempty"`   // when that event was committed in the core
	Behind      int64     `json:"events_behind"`          // events the warehouse holds that the mart has not seen
	LastStatus  string    `json:"last_status"`
	LastError   string    `json:"last_error,omitempty"`

	asOf Watermarks
}

// committedAt is when the last events up to w were committed in their
// cores: the latest of the namespaces' (each core's clock is its own, and a
// region's figures are as of its freshest hospital's).
func (r *Runner) committedAt(ctx context.Context, w Watermarks) (time.Time, error) {
	var conds []string
	for ns, seq := range w {
		conds = append(conds, fmt.Sprintf("(seq <= %d AND seq > %d)", seq, max(seq-1000, model.NamespaceBase(ns))))
	}
	if len(conds) == 0 {
		return time.Time{}, nil
	}
	sort.Strings(conds)
	rows, err := r.query(ctx, "SELECT max(occurred_at) FROM cdc_events WHERE "+strings.Join(conds, " OR "))
	if err != nil || len(rows) != 1 {
		return time.Time{}, err
	}
	t, _ := rows[0][0].(time.Time)
	return t, nil
}

// Freshness reports every mart's freshness.
func (r *Runner) Freshness(ctx context.Context) ([]Freshness, error) {
	d, err := r.dialect()
	if err != nil {
		return nil, err
	}
	if err := r.ensureSchemaLocked(ctx, d); err != nil {
		return nil, err
	}
	hws, err := r.Warehouse.HighWaters(ctx)
	if err != nil {
		return nil, err
	}
	head := Watermarks(hws).Progress()
	runs, err := r.Runs(ctx, 1000)
	if err != nil {
		return nil, err
	}
	out := make([]Freshness, 0, len(Marts))
	for _, m := range Marts {
		f := Freshness{Mart: m.Name, Title: m.Title, Behind: head, asOf: Watermarks{}}
		// The newest good run of each shard (one, on a single node) says
		// how far the mart is built on it; together, how far in all.
		seen := map[int64]bool{}
		for _, run := range runs { // newest first
			if run.Mart != m.Name {
				continue
			}
			if f.LastStatus == "" {
				f.LastStatus, f.LastError = run.Status, run.Error
			}
			if run.Status != "ok" || seen[run.Shard] {
				continue
			}
			seen[run.Shard] = true
			if run.Finished.After(f.LastSuccess) {
				f.LastSuccess = run.Finished
			}
			for ns, seq := range run.Watermarks {
				f.asOf[ns] = seq
			}
		}
		f.Watermark = f.asOf.Progress()
		f.Behind = head - f.Watermark
		if len(f.asOf) > 0 {
			f.DataAsOf, _ = r.committedAt(ctx, f.asOf)
		}
		out = append(out, f)
	}
	return out, nil
}

// ensureSchemaLocked creates the schema for readers that may run beside a
// run (the flag it sets is only ever set under the run lock or here, to true).
func (r *Runner) ensureSchemaLocked(ctx context.Context, d dialect) error {
	if r.mu.TryLock() {
		defer r.mu.Unlock()
		return r.ensureSchema(ctx, d)
	}
	return nil // a run is in progress: it created the schema
}

// Span is the range of days that hold treatment sessions, as YYYY-MM-DD;
// both empty when there are none.
type Span struct {
	First string `json:"first_day,omitempty"`
	Last  string `json:"last_day,omitempty"`
}

// Span reads the first and last day with sessions in the workload mart on or
// before through. Dashboards anchor their date presets on Last, so that a
// warehouse whose data ends before today opens on days that hold data.
func (r *Runner) Span(ctx context.Context, through string) (Span, error) {
	d, err := r.dialect()
	if err != nil {
		return Span{}, err
	}
	if err := r.ensureSchemaLocked(ctx, d); err != nil {
		return Span{}, err
	}
	if !validDay(through) {
		return Span{}, model.Invalid("to", "日期应为 YYYY-MM-DD want a day, got %q", through)
	}
	rows, err := r.query(ctx, "SELECT count(*), min(day), max(day) FROM mart_workload WHERE sessions > 0 AND day <= "+d.date(through))
	if err != nil || len(rows) == 0 {
		return Span{}, err
	}
	if n, _ := rows[0][0].(int64); n == 0 {
		return Span{}, nil
	}
	var s Span
	if t, ok := rows[0][1].(time.Time); ok {
		s.First = t.Format("2006-01-02")
	}
	if t, ok := rows[0][2].(time.Time); ok {
		s.Last = t.Format("2006-01-02")
	}
	return s, nil
}
