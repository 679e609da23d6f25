package etl

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestSnapshotRulesRefuseUncoveredReads: a mart subquery may read a
// snapshot only on a day column or join the snapshot is filled by; any
// other would silently miss rows in incremental runs.
func TestSnapshotRulesRefuseUncoveredReads(t *testing.T) {
	days := []string{"2026-03-02"}
	funcs := clickDialect.macros(days, newSnapshots(clickDialect, days))
	cur := funcs["cur"].(func(string, string) (string, error))
	curJoin := funcs["curJoin"].(func(string, string, string, string, string) (string, error))
	if got, err := cur("session", "started_at"); err != nil || !strings.HasPrefix(got, snapshotPrefix) || !strings.HasSuffix(got, "_session") {
		t.Errorf("cur session started_at = %q, %v; want its snapshot", got, err)
	}
	if _, err := cur("session", "ended_at"); err == nil {
		t.Error("cur on a column the session snapshot is not filled by was accepted")
	}
	if _, err := cur("nosuch", "day"); err == nil {
		t.Error("cur on an unknown entity was accepted")
	}
	if got, err := curJoin("order", "id", "session", "order_id", "started_at"); err != nil || !strings.HasSuffix(got, "_order") {
		t.Errorf("listed join = %q, %v", got, err)
	}
	if _, err := curJoin("order", "id", "appointment", "order_id", "booked_at"); err == nil {
		t.Error("a join not in snapshotJoins was accepted")
	}
	// Without snapshots (a full run, or a detail query) cur is the cur_ table.
	full := clickDialect.macros(nil, newSnapshots(clickDialect, nil))["cur"].(func(string, string) (string, error))
	if got, _ := full("session", "started_at"); got != "cur_session" {
		t.Errorf("full run: cur = %q", got)
	}
}

// TestSnapshotsCoverTheMarts: the snapshot of every entity a mart reads
// through cur holds the rows of each day column and join its SQL filters
// on, and reads only columns that exist.
func TestSnapshotsCoverTheMarts(t *testing.T) {
	ents, err := snapshotEntities(clickDialect, Marts)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 10 {
		t.Fatalf("marts read %d entities through snapshots: %v", len(ents), ents)
	}
	s := newSnapshots(clickDialect, []string{"2026-03-02", "2026-04-01"})
	for _, e := range ents {
		pred, err := s.pred(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range dayColumns[e] {
			if !strings.Contains(pred, col) {
				t.Errorf("%s snapshot is not filled by %s: %s", e, col, pred)
			}
		}
		cols := s.columns(e)
		if cols[0] != "id" || len(cols) < 3 {
			t.Errorf("%s snapshot columns %v", e, cols)
		}
	}
}

// TestSnapshotsOnlyForFewDays: a run over more days than a snapshot should
// hold in the server's memory reads the cur_ tables instead; a full run and
// DuckDB never take snapshots.
func TestSnapshotsOnlyForFewDays(t *testing.T) {
	run := &runState{snaps: map[string]*snapshots{}}
	few := []string{"2026-03-02", "2026-03-03"}
	if s := run.snapshots(clickDialect, few); s == nil {
		t.Error("no snapshots for a two-day run")
	} else if again := run.snapshots(clickDialect, few); again != s {
		t.Error("two marts of the same days got different snapshots")
	}
	var many []string
	for d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); len(many) <= maxSnapshotDays; d = d.AddDate(0, 0, 1) {
		many = append(many, d.Format("2006-01-02"))
	}
	if s := run.snapshots(clickDialect, many); s != nil {
		t.Errorf("snapshots for a %d-day run", len(many))
	}
	if s := run.snapshots(clickDialect, nil); s != nil {
		t.Error("snapshots for a full run")
	}
	if s := run.snapshots(duckDialect, few); s != nil {
		t.Error("snapshots on DuckDB")
	}
	sql, err := clickDialect.martSQL(MartByName("revenue"), many, nil)
	if err != nil || strings.Contains(sql, snapshotPrefix) || !strings.Contains(sql, "cur_session") {
		t.Errorf("a run without snapshots does not read cur_: %v", err)
	}
}

// TestStaleSnapshotsDropped: snapshot tables a dead process left behind go
// when they are older than any run; younger ones (a run of another process
// in progress) and other tables stay.
func TestStaleSnapshotsDropped(t *testing.T) {
	ctx := context.Background()
	wh := warehousetest.ClickHouse(t).Open(t)
	defer wh.Close()
	r := &Runner{Warehouse: wh}
	for _, q := range []string{
		"CREATE TABLE " + snapshotPrefix + "dead_session (id Int64) ENGINE = Memory",
		"CREATE TABLE etl_other (id Int64) ENGINE = Memory",
	} {
		if err := wh.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2100 * time.Millisecond) // metadata times are in seconds
	if err := wh.Exec(ctx, "CREATE TABLE "+snapshotPrefix+"live_session (id Int64) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	saved := staleSnapshotAge
	staleSnapshotAge = time.Second
	defer func() { staleSnapshotAge = saved }()
	if err := r.dropStaleSnapshots(ctx); err != nil {
		t.Fatal(err)
	}
	rows := warehousetest.Rows(t, wh, "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'etl_%' ORDER BY name")
	var names []string
	for _, row := range rows {
		names = append(names, row[0].(string))
	}
	if want := []string{"etl_other", snapshotPrefix + "live_session"}; !slices.Equal(names, want) {
		t.Errorf("tables after the cleanup %v, want %v", names, want)
	}
}
