package etl_test

import (
	"context"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestCloseOutOverThePilot: the pilot's core opened three days after its
// last day, as a service started late would be. The close-out turns every
// booking whose slot (plus the grace) has passed into a no-show; after the
// relay and a run, the marts' 爽约数 grows and 号源占用 shrinks by exactly
// that many, no past booking is left, and the oracle of every mart, computed
// from the core apart from the SQL, still agrees.
func TestCloseOutOverThePilot(t *testing.T) {
	ctx := context.Background()
	core := pilotCore(t)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, model.Local) // the pilot's last day is 2026-11-22
	core.Now = func() time.Time { return now }
	due := func() int64 {
		t.Helper()
		var n int64
		if err := core.QueryRowContext(ctx, `SELECT count(*) FROM appointment a JOIN slot s ON s.id = a.slot_id JOIN project p ON p.id = a.project_id
WHERE a.status = 'booked' AND s.end_at <= ?`, now.Add(-30*time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	past := due()
	if past == 0 {
		t.Fatal("the pilot leaves no booking past its slot three days later: nothing to close")
	}
	wh, r := built(t, core, warehousetest.DuckDB(t))
	totals := func() (noShows, booked int64) {
		t.Helper()
		row := warehousetest.Rows(t, wh, "SELECT CAST(sum(no_shows) AS BIGINT), CAST(sum(slot_booked) AS BIGINT) FROM mart_project")[0]
		return row[0].(int64), row[1].(int64)
	}
	noShows, booked := totals()

	res, err := core.CloseOut(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if int64(res.NoShows) != past || due() != 0 {
		t.Fatalf("closed %+v of %d past bookings; %d left", res, past, due())
	}
	ship(t, core, wh)
	mustRun(t, r, etl.Options{Full: true})
	afterNoShows, afterBooked := totals()
	if afterNoShows != noShows+past || afterBooked != booked-past {
		t.Errorf("爽约数 %d → %d and 号源占用 %d → %d after closing %d bookings", noShows, afterNoShows, booked, afterBooked, past)
	}
	checkOracle(t, core)
}
