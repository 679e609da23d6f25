package etl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zhiliao/zhiliao/warehouse"
	"golang.org/x/sync/errgroup"
)

// Snapshots of an incremental ClickHouse run. A mart's subqueries read an
// entity's current rows filtered to the run's days; on ClickHouse a current
// row is the newest version of its id, found by FINAL, which merges the
// versions at read time on one thread and costs 10–100 ms per table of a
// hospital's year however few rows the filter keeps. Five marts read about
// fifty such subqueries. A snapshot is one FINAL read per entity and run,
// restricted by the (institution_id, id) key to the ids that have a stored
// version on the days, kept in a Memory table that the marts then read
// without FINAL. It holds the rows of every day column the marts filter the
// entity on, and of the joins listed in snapshotJoins; the cur and curJoin
// macros refuse a subquery the snapshot would not cover.

// snapshotRule is what one subquery needs of an entity's snapshot: its rows
// with col on the run's days, or (other set) its rows whose key equals
// otherKey of an other row with col on those days.
type snapshotRule struct{ key, other, otherKey, col string }

// snapshotJoins are the joins from a filtered row to another entity's
// current row that the marts make through a snapshot (curJoin).
var snapshotJoins = map[string][]snapshotRule{
	// workload: a signed record's session (visit type).
	"session": {{key: "id", other: "record", otherKey: "session_id", col: "signed_at"}},
	// workload: a signed assessment's application (project, visit type).
	"application": {{key: "id", other: "assessment", otherKey: "application_id", col: "signed_at"}},
	// project: a session's order (the wait from order to first session).
	"order": {{key: "id", other: "session", otherKey: "order_id", col: "started_at"}},
	// data_quality: the records of a session (有效应用: is one signed).
	"record": {{key: "session_id", other: "session", otherKey: "id", col: "started_at"}},
}

func (n snapshotRule) check(entity string) error {
	if n.other == "" {
		if !slices.Contains(dayColumns[entity], n.col) {
			return fmt.Errorf("etl: cur %q %q: not a day column of %s (dayColumns)", entity, n.col, entity)
		}
		return nil
	}
	if !slices.Contains(snapshotJoins[entity], n) {
		return fmt.Errorf("etl: curJoin %q %q %q %q %q is not in snapshotJoins", entity, n.key, n.other, n.otherKey, n.col)
	}
	return nil
}

// snapshots are one run's snapshot tables for one set of days.
type snapshots struct {
	d    dialect
	days []string
	run  string          // unique per run: two processes may run marts at once
	used map[string]bool // entities the SQL rendered last reads
	made []string        // tables created, dropped at the end of the run
	have map[string]bool
	mu   sync.Mutex // marts render and make concurrently
}

// newSnapshots are the snapshots of a run over days, of the entities
// given and of any other the rendered SQL reads.
func newSnapshots(d dialect, days []string, entities ...string) *snapshots {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	s := &snapshots{d: d, days: days, run: hex.EncodeToString(b), used: map[string]bool{}, have: map[string]bool{}}
	for _, e := range entities {
		s.used[e] = true
	}
	return s
}

// snapshotEntities are the entities the marts read through snapshots, so
// that a run can read them all at once, in parallel, before the first mart.
func snapshotEntities(d dialect, marts []*Mart) ([]string, error) {
	probe := newSnapshots(d, []string{"2000-01-01"})
	for _, m := range marts {
		if _, err := d.martSQL(m, probe.days, probe); err != nil {
			return nil, err
		}
	}
	var out []string
	for e := range probe.used {
		out = append(out, e)
	}
	sort.Strings(out)
	return out, nil
}

// snapshotPrefix names every snapshot table, so that ones left by a
// process that died mid-run can be found and dropped.
const snapshotPrefix = "etl_snap_"

func (s *snapshots) name(entity string) string { return snapshotPrefix + s.run + "_" + entity }

func (s *snapshots) use(entity string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used[entity] = true
	return s.name(entity)
}

// pred is the condition on an entity's stored versions that selects the ids
// its snapshot holds: a day column on the days, or a listed join.
func (s *snapshots) pred(entity string) (string, error) {
	in := " IN (" + s.d.dayList(s.days) + ")"
	var or []string
	for _, col := range dayColumns[entity] {
		expr, err := s.d.dayExpr(entity, col)
		if err != nil {
			return "", err
		}
		or = append(or, expr+in)
	}
	for _, j := range snapshotJoins[entity] {
		expr, err := s.d.dayExpr(j.other, j.col)
		if err != nil {
			return "", err
		}
		or = append(or, fmt.Sprintf("%s IN (SELECT %s FROM %s WHERE %s)", j.key, j.otherKey, warehouse.TableOf(j.other).Latest, expr+in))
	}
	return strings.Join(or, " OR "), nil
}

// snapshotWorkers is how many snapshots are read at once. FINAL reads on
// one thread, so two use both cores of a small server; more only queue.
const snapshotWorkers = 2

// make creates the snapshots the run wants and the rendered SQL reads that
// are not made yet, snapshotWorkers at a time.
func (s *snapshots) make(ctx context.Context, wh warehouse.Warehouse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var need []string
	for e := range s.used {
		if !s.have[e] {
			need = append(need, e)
		}
	}
	sort.Strings(need)
	queries := make([]string, len(need))
	for i, e := range need {
		pred, err := s.pred(e)
		if err != nil {
			return err
		}
		l := warehouse.TableOf(e).Latest
		queries[i] = "CREATE TABLE " + s.name(e) + " ENGINE = Memory AS SELECT " + strings.Join(s.columns(e), ", ") + " FROM " + l +
			" FINAL WHERE _op != 'd' AND id IN (SELECT id FROM " + l + " WHERE " + pred + ")"
		// Listed before it is filled, so that a failed fill is dropped too.
		s.made = append(s.made, s.name(e))
	}
	// Every statement that starts runs to its end, even when another has
	// failed: a CREATE cancelled on the client can still finish on the
	// server after the run's drop, leaving its table behind (seen under
	// load in CI). Statements not yet started are skipped after a failure.
	var g errgroup.Group
	var failed atomic.Bool
	g.SetLimit(snapshotWorkers)
	for i, q := range queries {
		g.Go(func() error {
			if failed.Load() {
				return nil
			}
			if err := wh.Exec(ctx, q); err != nil {
				failed.Store(true)
				return fmt.Errorf("snapshot of %s: %w", need[i], err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, e := range need {
		s.have[e] = true
	}
	return nil
}

// columns are the entity's columns the mart SQL files name: a snapshot
// copies only those (records carry their text, and FINAL reads every column
// it returns).
func (s *snapshots) columns(entity string) []string {
	words := martWords(s.d.engine)
	cols := []string{"id"}
	for _, c := range warehouse.TableOf(entity).Columns {
		if c.Name != "id" && words[c.Name] {
			cols = append(cols, c.Name)
		}
	}
	return cols
}

var (
	martWordsOnce sync.Once
	martWordsSet  = map[string]map[string]bool{}
	identifier    = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

// martWords are the identifiers in an engine's mart SQL files (not their
// detail queries, which read cur_ tables).
func martWords(engine string) map[string]bool {
	martWordsOnce.Do(func() {
		for _, e := range []string{"duckdb", "clickhouse"} {
			set := map[string]bool{}
			files, _ := sqlFS.ReadDir("sql/" + e)
			for _, f := range files {
				if f.IsDir() {
					continue
				}
				body, _ := sqlFS.ReadFile("sql/" + e + "/" + f.Name())
				for _, w := range identifier.FindAll(body, -1) {
					set[string(w)] = true
				}
			}
			martWordsSet[e] = set
		}
	})
	return martWordsSet[engine]
}

// drop removes the run's snapshot tables.
func (s *snapshots) drop(ctx context.Context, wh warehouse.Warehouse) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, t := range s.made {
		if err := wh.Exec(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			errs = append(errs, err)
		}
	}
	s.made = nil
	return errors.Join(errs...)
}

// staleSnapshotAge is older than any run takes (a var for its test).
var staleSnapshotAge = time.Hour

// dropStaleSnapshots drops snapshot tables an earlier process left behind
// when it died mid-run: those older than staleSnapshotAge.
func (r *Runner) dropStaleSnapshots(ctx context.Context) error {
	rows, err := r.query(ctx, fmt.Sprintf("SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE '%s%%' AND metadata_modification_time < now() - INTERVAL %d SECOND",
		snapshotPrefix, int64(staleSnapshotAge.Seconds())))
	if err != nil {
		return err
	}
	for _, row := range rows {
		if err := r.Warehouse.Exec(ctx, fmt.Sprint("DROP TABLE IF EXISTS ", row[0])); err != nil {
			return err
		}
	}
	return nil
}
