package gen_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/zhiliao/zhiliao/gen"
	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/store"
)

// outboxSet is the outbox as a set of events by entity, id and version,
// with everything but the interleaving of commits (seq, tx_id): what a
// parallel run must give the same every time.
func outboxSet(t *testing.T, db *store.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "SELECT entity, entity_id, op, version, occurred_at, institution_id, payload FROM cdc_outbox")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var entity, op, at, payload string
		var id, version, inst int64
		if err := rows.Scan(&entity, &id, &op, &version, &at, &inst, &payload); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte(payload))
		out = append(out, fmt.Sprintf("%s/%d/v%d %s %s %d %s", entity, id, version, op, at, inst, hex.EncodeToString(h[:8])))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestParallelDeterministicOnPostgres: the clinic's four departments
// generated at once on PostgreSQL, twice, with the workers' commits
// interleaved differently (four at once, then one after another): the same
// events, as sets by entity, id and version, and the same counts. Another
// seed gives other events.
func TestParallelDeterministicOnPostgres(t *testing.T) {
	testpg.ServerDSN(t)
	preset := gen.Presets["clinic"]
	preset.Days = 28 // four weeks: courses end, follow-ups fall due, the dictionary is renamed halfway
	run := func(seed uint64, workers int) (*store.DB, *gen.Stats) {
		// Files are named by the folder's base name: the same in every run.
		db, err := store.Open(context.Background(), testpg.Core(t), store.Options{FilesDir: filepath.Join(t.TempDir(), "files")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		st, err := gen.Run(context.Background(), db, gen.Config{Preset: preset, Seed: seed, Parallel: true, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		return db, st
	}
	a, sa := run(7, 4)
	b, sb := run(7, 1)
	ea, eb := outboxSet(t, a), outboxSet(t, b)
	if len(ea) < 1000 || !slices.Equal(ea, eb) {
		diff := 0
		for i := range min(len(ea), len(eb)) {
			if ea[i] != eb[i] {
				diff = i
				break
			}
		}
		t.Fatalf("same seed, different events: %d vs %d, first difference at %d: %q vs %q", len(ea), len(eb), diff, ea[min(diff, len(ea)-1)], eb[min(diff, len(eb)-1)])
	}
	took := fmt.Sprintf("4 workers %.1f s, 1 worker %.1f s", sa.Elapsed.Seconds(), sb.Elapsed.Seconds())
	sa.Elapsed, sb.Elapsed = 0, 0
	if !reflect.DeepEqual(sa, sb) {
		t.Errorf("same seed, different counts:\n%+v\n%+v", *sa, *sb)
	}
	if sa.Sessions < 100 || len(sa.Spoiled.IDs("06.01.3/一致性")) == 0 {
		t.Errorf("a thin run: %+v", *sa)
	}
	c, _ := run(8, 4)
	if slices.Equal(outboxSet(t, c), ea) {
		t.Error("another seed gave the same events")
	}
	// Every department's rows are its own worker's: ids from its range,
	// and the shared setup's below them.
	var depts, ranges int
	if err := a.QueryRowContext(context.Background(), `SELECT count(DISTINCT dept_id), count(DISTINCT id / 2147483648) FROM appointment`).Scan(&depts, &ranges); err != nil {
		t.Fatal(err)
	}
	if depts != 4 || ranges != 4 {
		t.Errorf("appointments of %d departments in %d id ranges, want 4 and 4", depts, ranges)
	}
	t.Logf("%d events, %d sessions; %s", len(ea), sa.Sessions, took)
}
