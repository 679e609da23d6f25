package etl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
	"golang.org/x/sync/errgroup"
)

// ErrBusy is returned when a run is asked for while another is running: runs
// of the marts never overlap.
var ErrBusy = errors.New("etl: another run is in progress")

// Runner rebuilds marts in a warehouse.
type Runner struct {
	Warehouse warehouse.Warehouse
	Logger    *slog.Logger
	Now       func() time.Time
	Metrics   *Metrics
	// Placeholders are the values that count as not filled, after every
	// Unicode space is removed (rules.json placeholders; nil: none).
	Placeholders []string

	mu     sync.Mutex
	schema bool
	// shard numbers this runner's run log rows on a sharded warehouse
	// (shards.go), from 1; 0 on a warehouse of one node.
	shard        int64
	shardRunners []*Runner
	logSeq       int64
	dims         dimsCache
	stamps       stampCache
	asOf         liveAsOf
}

// Options of one run.
type Options struct {
	Full  bool     // rebuild every day instead of the touched ones
	Marts []string // nil: every mart
	Job   string   // what asked for it: "manual", "incremental", "nightly"
}

// Result is what one run did to one mart.
type Result struct {
	Mart      string `json:"mart"`
	Job       string `json:"job"`
	Full      bool   `json:"full"`
	Status    string `json:"status"` // ok, failed
	Days      int64  `json:"days"`
	Rows      int64  `json:"rows"`
	Watermark int64  `json:"watermark"` // Watermarks.Progress: the outbox seq, for one core without a namespace
	// Watermarks is how far the run built the mart, per namespace.
	Watermarks Watermarks `json:"watermarks,omitempty"`
	// Shard is the shard whose marts the run built, on a sharded warehouse.
	Shard     int64     `json:"shard,omitempty"`
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Finished  time.Time `json:"finished_at"`
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Run rebuilds the marts of opt once. A mart that fails keeps its previous
// rows (the replacement is atomic) and its failure is in the run log; the
// others still run. The error joins the failures.
func (r *Runner) Run(ctx context.Context, opt Options) ([]Result, error) {
	if !r.mu.TryLock() {
		return nil, ErrBusy
	}
	defer r.mu.Unlock()
	d, err := r.dialect()
	if err != nil {
		return nil, err
	}
	if err := r.ensureSchema(ctx, d); err != nil {
		return nil, err
	}
	if sh, ok := r.Warehouse.(warehouse.Sharded); ok {
		return r.runShards(ctx, sh, opt)
	}
	marts := Marts
	if opt.Marts != nil {
		marts = nil
		for _, name := range opt.Marts {
			m := MartByName(name)
			if m == nil {
				return nil, model.Invalid("mart", "没有这个数据集市 unknown mart %q", name)
			}
			marts = append(marts, m)
		}
	}
	if opt.Job == "" {
		opt.Job = "manual"
	}
	hws, err := r.Warehouse.HighWaters(ctx)
	if err != nil {
		return nil, err
	}
	head := Watermarks(hws)
	run := &runState{touched: map[string][]string{}, snaps: map[string]*snapshots{}}
	if d.snapshots && !opt.Full {
		if run.snapEntities, err = snapshotEntities(d, marts); err != nil {
			return nil, err
		}
		if err := r.dropStaleSnapshots(ctx); err != nil {
			r.logger().Warn("etl: dropping stale snapshots", "err", err)
		}
		defer func() {
			for _, s := range run.snaps {
				// Not the run's context: a cancelled run still cleans up.
				if err := s.drop(context.WithoutCancel(ctx), r.Warehouse); err != nil {
					r.logger().Warn("etl: dropping snapshots", "err", err)
				}
			}
		}()
	}
	results := make([]Result, len(marts))
	var g errgroup.Group
	g.SetLimit(d.martWorkers)
	for i, m := range marts {
		g.Go(func() error {
			results[i] = r.runMart(ctx, d, m, opt, head, run)
			return nil
		})
	}
	_ = g.Wait() // runMart reports failures in its result
	var errs []error
	for _, res := range results {
		if res.Status != "ok" {
			errs = append(errs, fmt.Errorf("mart %s: %s", res.Mart, res.Error))
		}
		if err := r.logRun(ctx, d, res); err != nil {
			errs = append(errs, fmt.Errorf("run log: %w", err))
		}
		r.Metrics.observe(res)
	}
	r.stamps.invalidate()
	return results, errors.Join(errs...)
}

// runState is what the marts of one run share: the touched days of a
// watermark (looked up once) and the snapshots of a set of days (read
// once). Marts run concurrently on ClickHouse, hence the lock.
type runState struct {
	mu           sync.Mutex
	touched      map[string][]string // by the condition on seq
	snaps        map[string]*snapshots
	snapEntities []string
}

func (s *runState) days(ctx context.Context, r *Runner, d dialect, last, head Watermarks) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := newSince(last, head)
	if days, ok := s.touched[since]; ok {
		return days, nil
	}
	days, err := r.touchedDays(ctx, d, since)
	if err == nil {
		s.touched[since] = days
	}
	return days, err
}

// maxSnapshotDays bounds the days a run reads into snapshots: a snapshot
// is held in the server's memory, and a run over more days (a catch-up after
// a long outage) reads nearly whole tables, where cur_ costs the same.
const maxSnapshotDays = 62

// snapshots of the days, nil when the engine does not take them or the
// days are too many to hold.
func (s *runState) snapshots(d dialect, days []string) *snapshots {
	if days == nil || !d.snapshots || len(days) > maxSnapshotDays {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.Join(days, ",")
	if s.snaps[key] == nil {
		s.snaps[key] = newSnapshots(d, days, s.snapEntities...)
	}
	return s.snaps[key]
}

func (r *Runner) runMart(ctx context.Context, d dialect, m *Mart, opt Options, head Watermarks, run *runState) Result {
	res := Result{Mart: m.Name, Job: opt.Job, Full: opt.Full, StartedAt: r.now().UTC(), Watermark: head.Progress(), Watermarks: head}
	fail := func(err error) Result {
		res.Status, res.Error, res.Finished = "failed", err.Error(), r.now().UTC()
		r.logger().Error("etl run failed", "mart", m.Name, "job", opt.Job, "err", err)
		return res
	}
	var days []string // nil: every day
	if !opt.Full {
		last, ok, err := r.watermark(ctx, m)
		if err != nil {
			return fail(err)
		}
		if !ok {
			res.Full = true // never built: build it whole
		} else {
			if days, err = run.days(ctx, r, d, last, head); err != nil {
				return fail(err)
			}
			if len(days) == 0 {
				res.Status, res.Finished = "ok", r.now().UTC()
				return res
			}
		}
	}
	var err error
	if d.swapInTransaction {
		err = r.replaceDuck(ctx, d, m, days)
	} else {
		err = r.replaceClick(ctx, d, m, days, run.snapshots(d, days))
	}
	if err != nil {
		return fail(err)
	}
	res.Days = int64(len(days))
	if days == nil {
		res.Days = -1
	}
	if res.Rows, err = r.count(ctx, d, m, days); err != nil {
		return fail(err)
	}
	res.Status, res.Finished = "ok", r.now().UTC()
	r.logger().Info("etl run", "mart", m.Name, "job", opt.Job, "full", res.Full, "days", res.Days, "rows", res.Rows,
		"watermarks", head.String(), "seconds", res.Finished.Sub(res.StartedAt).Seconds())
	return res
}

// replaceDuck swaps the mart's rows of those days in one transaction.
func (r *Runner) replaceDuck(ctx context.Context, d dialect, m *Mart, days []string) error {
	sel, err := d.martSQL(m, days, nil)
	if err != nil {
		return err
	}
	del := "DELETE FROM " + m.Table()
	if days != nil {
		del += " WHERE day IN (" + d.dayList(days) + ")"
	}
	return r.Warehouse.ExecAtomic(ctx, del, "INSERT INTO "+m.Table()+" "+sel)
}

// replaceClick computes the touched days into the staging table, copies
// the other days of their months from the mart beside them, and swaps each
// month in with REPLACE PARTITION (atomic per partition). Copying a month's
// untouched days is a read of a few hundred mart rows; recomputing them
// would read the raw layer for every day of the month.
func (r *Runner) replaceClick(ctx context.Context, d dialect, m *Mart, days []string, snaps *snapshots) error {
	stage := m.Table() + "_stage"
	var months map[string]bool
	if days != nil {
		months = map[string]bool{}
		for _, day := range days {
			months[day[:7]] = true
		}
	}
	sel, err := d.martSQL(m, days, snaps)
	if err != nil {
		return err
	}
	if snaps != nil {
		if err := snaps.make(ctx, r.Warehouse); err != nil {
			return err
		}
	}
	if err := r.Warehouse.Exec(ctx, "TRUNCATE TABLE "+stage); err != nil {
		return err
	}
	if months != nil {
		var ms []string
		for ym := range months {
			ms = append(ms, strings.ReplaceAll(ym, "-", ""))
		}
		sort.Strings(ms)
		keep := fmt.Sprintf("INSERT INTO %s SELECT * FROM %s WHERE toYYYYMM(day) IN (%s) AND day NOT IN (%s)",
			stage, m.Table(), strings.Join(ms, ", "), d.dayList(days))
		if err := r.Warehouse.Exec(ctx, keep); err != nil {
			return err
		}
	}
	if err := r.Warehouse.Exec(ctx, "INSERT INTO "+stage+" "+sel); err != nil {
		return err
	}
	var parts []string
	if months != nil {
		for ym := range months {
			parts = append(parts, strings.ReplaceAll(ym, "-", ""))
		}
	} else {
		rows, err := r.query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND active AND table IN ('"+m.Table()+"', '"+stage+"')")
		if err != nil {
			return err
		}
		for _, row := range rows {
			parts = append(parts, fmt.Sprint(row[0]))
		}
	}
	sort.Strings(parts)
	for _, p := range parts {
		if err := r.Warehouse.Exec(ctx, "ALTER TABLE "+m.Table()+" REPLACE PARTITION "+p+" FROM "+stage); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) query(ctx context.Context, q string, args ...any) ([][]any, error) {
	rr, err := r.read(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return warehouse.ReadAll(rr)
}

func (r *Runner) count(ctx context.Context, d dialect, m *Mart, days []string) (int64, error) {
	q := "SELECT count(*) FROM " + m.Table()
	if days != nil {
		q += " WHERE day IN (" + d.dayList(days) + ")"
	}
	rows, err := r.query(ctx, q)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	n, _ := rows[0][0].(int64)
	return n, nil
}

// watermark is how far the mart was last built, per namespace: its last
// good run's (runs never overlap, and each starts from the warehouse's high
// waters, which only grow).
func (r *Runner) watermark(ctx context.Context, m *Mart) (Watermarks, bool, error) {
	rows, err := r.query(ctx, "SELECT watermark, watermarks FROM etl_runs WHERE mart = ? AND status = 'ok' ORDER BY seq DESC LIMIT 1", m.Name)
	if err != nil || len(rows) == 0 {
		return nil, false, err
	}
	legacy, _ := rows[0][0].(int64)
	text, _ := rows[0][1].(string)
	w, err := parseWatermarks(text, legacy)
	return w, err == nil, err
}

// dayColumns are the columns the marts put a row's measures on a day by,
// per entity (see the SQL files).
var dayColumns = map[string][]string{
	"session": {"started_at"}, "assessment": {"signed_at"}, "record": {"signed_at", "treated_at"},
	"followup": {"done_at", "due_date"}, "order": {"ordered_at", "paid_at", "refunded_at"},
	"application": {"applied_at"}, "appointment": {"booked_at", "cancelled_at", "planned_at"},
	"queue_ticket": {"day", "checked_in_at"}, "course": {"started_at", "ended_at"}, "slot": {"day"},
	"survey": {"sent_at", "answered_at"}, "complaint": {"received_at"},
}

// touchedDays lists the days the rows changed in (after, upto] count on:
// the day columns of every version of those rows, so that a correction (a
// refund, a cancellation, a re-signed record) recomputes the day it corrects
// as well as the day it happened. Measures are keyed by a day column of the
// row whose change alters them; dictionary changes (a project renamed, its
// rating scope) reach old days at the nightly full rebuild.
func (r *Runner) touchedDays(ctx context.Context, d dialect, since string) ([]string, error) {
	if since == "" {
		return nil, nil
	}
	changed, err := r.changedIDs(ctx, since)
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, t := range warehouse.Tables() {
		cols := dayColumns[t.Entity]
		if len(cols) == 0 {
			continue
		}
		ids, ok := changed[t.Entity]
		if changed != nil && !ok {
			continue
		}
		// The landing table is ordered by seq, so the changed ids are a
		// short range read; the raw tables are ordered by id, and a list
		// of literal ids finds their granules by the key.
		where := "id IN (" + ids + ")"
		if changed == nil {
			where = fmt.Sprintf("id IN (SELECT entity_id FROM cdc_events WHERE (%s) AND entity = '%s')", since, t.Entity)
		}
		for _, name := range cols {
			expr, err := d.dayExpr(t.Entity, name)
			if err != nil {
				return nil, err
			}
			parts = append(parts, fmt.Sprintf("SELECT DISTINCT %s AS d FROM %s WHERE %s AND %s IS NOT NULL", expr, t.Name, where, name))
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	rows, err := r.query(ctx, "SELECT DISTINCT d FROM ("+strings.Join(parts, " UNION ALL ")+") u ORDER BY d")
	if err != nil {
		return nil, err
	}
	days := make([]string, 0, len(rows))
	for _, row := range rows {
		t, ok := row[0].(time.Time)
		if !ok {
			continue
		}
		s := t.Format("2006-01-02")
		if validDay(s) && t.Year() > 1970 {
			days = append(days, s)
		}
	}
	return days, nil
}

// maxLiteralIDs bounds the changed ids touchedDays writes into its SQL; a
// longer range (a catch-up after an outage) reads them by subquery.
var maxLiteralIDs = 20000 // a var for the test of the subquery path

// changedIDs are the ids of each entity with events whose seq meets since,
// as comma-separated lists; nil when there are more than maxLiteralIDs.
func (r *Runner) changedIDs(ctx context.Context, since string) (map[string]string, error) {
	rows, err := r.query(ctx, fmt.Sprintf("SELECT DISTINCT entity, entity_id FROM cdc_events WHERE (%s) LIMIT %d", since, maxLiteralIDs+1))
	if err != nil || len(rows) > maxLiteralIDs {
		return nil, err
	}
	lists := map[string][]string{}
	for _, row := range rows {
		e, _ := row[0].(string)
		lists[e] = append(lists[e], fmt.Sprint(row[1]))
	}
	out := make(map[string]string, len(lists))
	for e, ids := range lists {
		out[e] = strings.Join(ids, ", ")
	}
	return out, nil
}

// ensureSchema creates the mart tables and the run log once per runner.
func (r *Runner) ensureSchema(ctx context.Context, d dialect) error {
	if r.schema {
		return nil
	}
	stmts := []string{}
	for _, m := range Marts {
		stmts = append(stmts, d.ddl(m, m.Table()))
		if !d.swapInTransaction {
			stmts = append(stmts, d.ddl(m, m.Table()+"_stage"))
		}
	}
	stmts = append(stmts, d.runsDDL)
	for _, s := range stmts {
		if err := r.Warehouse.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	// A run log from before namespaces lacks their columns.
	rows, err := r.query(ctx, d.columnsOf("etl_runs"))
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, row := range rows {
		have[fmt.Sprint(row[0])] = true
	}
	for _, c := range [][2]string{{"watermarks", d.textDefault}, {"shard", d.bigintDefault}} {
		if have[c[0]] {
			continue
		}
		add := "ALTER TABLE etl_runs ADD COLUMN " + c[0] + " " + c[1]
		if err := r.Warehouse.Exec(ctx, add); err != nil {
			return fmt.Errorf("%s: %w", add, err)
		}
	}
	r.schema = true
	return nil
}

// logRun appends the run to etl_runs. INSERT … SELECT rather than VALUES:
// ClickHouse 18.16 waits for a data block after an INSERT … VALUES query.
func (r *Runner) logRun(ctx context.Context, d dialect, res Result) error {
	ts, full := d.timestamp, d.boolean(res.Full)
	// seq orders the log: timestamps have second precision and many runs
	// finish within one second.
	r.logSeq = max(r.logSeq+1, time.Now().UnixNano())
	return r.Warehouse.Exec(ctx, fmt.Sprintf(`INSERT INTO etl_runs (mart, job, full_rebuild, status, days, rows, watermark, error, started_at, finished_at, seq, watermarks, shard)
SELECT ?, ?, %s, ?, %d, %d, %d, ?, %s, %s, %d, ?, %d`,
		full, res.Days, res.Rows, res.Watermark, ts(res.StartedAt), ts(res.Finished), r.logSeq, r.shard), res.Mart, res.Job, res.Status, res.Error, res.Watermarks.String())
}
