package exports_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/exports"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testmarts.Cleanup()
	os.Exit(code)
}

var quiet = testmarts.Quiet

func pilot(t *testing.T) *etl.Runner { return testmarts.Pilot(t).Runner }

// gated holds every mart query until the gate opens or the query's context
// ends: an export that is still running when the test acts.
type gated struct {
	*etl.Runner
	gate chan struct{}
}

func (g gated) Query(ctx context.Context, m *etl.Mart, q etl.Query) (array.RecordReader, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Runner.Query(ctx, m, q)
}

func depts(t *testing.T, r *etl.Runner) []int64 {
	dims, err := r.Dimensions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, d := range dims.Departments {
		out = append(out, d.ID)
	}
	return out
}

// TestCancel: a running export cancelled leaves no file and says so; the
// jobs beside it, run concurrently, all finish with their files.
func TestCancel(t *testing.T) {
	r := pilot(t)
	g := gated{Runner: r, gate: make(chan struct{})}
	dir := t.TempDir()
	m := &exports.Manager{Source: g, Rules: reports.DefaultRules(), Dir: dir, Logger: quiet}
	p := reports.Params{From: "2026-09-01", To: "2026-11-22", Depts: depts(t, r)}
	ctx := context.Background()
	victim := m.Start(ctx, reports.ReportByID("dept-monthly"), p, 1)
	var others []exports.Job
	for _, id := range []string{"workload", "revenue", "project", "satisfaction"} {
		others = append(others, m.Start(ctx, reports.ReportByID(id), p, 2))
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if j, _ := m.Get(victim.ID); j.Status == exports.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job never ran")
		}
	}
	if err := m.Cancel(victim.ID); err != nil {
		t.Fatal(err)
	}
	j, err := m.Wait(ctx, victim.ID)
	if err != nil || j.Status != exports.Cancelled || j.Finished == nil {
		t.Fatalf("cancelled job %+v %v", j, err)
	}
	if _, err := m.File(victim.ID); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("file of a cancelled job: %v", err)
	}
	close(g.gate)
	var wg sync.WaitGroup
	for _, o := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := m.Wait(ctx, o.ID)
			if err != nil || j.Status != exports.Done || j.Rows == 0 || j.Percent != 100 {
				t.Errorf("job %s: %+v %v", o.Report, j, err)
				return
			}
			path, err := m.File(o.ID)
			if st, serr := os.Stat(path); err != nil || serr != nil || st.Size() == 0 {
				t.Errorf("job %s file %s: %v %v", o.Report, path, err, serr)
			}
		}()
	}
	wg.Wait()
	files, _ := filepath.Glob(filepath.Join(dir, "jobs", "*"))
	if len(files) != len(others) {
		t.Errorf("files left %v, want the %d finished ones only", files, len(others))
	}
	if _, err := m.Get("nope"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("unknown job: %v", err)
	}
}

// TestMonthly: the monthly schedule writes last month's reports for every
// department with a record each; a month without data is recorded as
// failed and leaves no workbook.
func TestMonthly(t *testing.T) {
	r := pilot(t)
	dir := t.TempDir()
	m := &exports.Manager{Source: r, Rules: reports.DefaultRules(), Dir: dir, Logger: quiet}
	s := &exports.Schedule{Manager: m, Dims: r.Dimensions, Logger: quiet}
	out, err := s.RunMonthly(context.Background(), time.Date(2026, 10, 1, 6, 0, 0, 0, model.Local))
	if err != nil || len(out) != len(exports.MonthlyReports) {
		t.Fatal(out, err)
	}
	for _, sc := range out {
		if sc.Status != exports.Done || sc.From != "2026-09-01" || sc.To != "2026-09-30" || sc.Rows == 0 || sc.Bytes == 0 {
			t.Errorf("%+v", sc)
		}
		if _, err := m.ScheduledFile(sc.Name); err != nil {
			t.Errorf("%s: %v", sc.Name, err)
		}
	}
	if _, err := s.RunMonthly(context.Background(), time.Date(2020, 2, 1, 6, 0, 0, 0, model.Local)); err == nil {
		t.Error("an empty month was not reported as a failure")
	}
	list, err := m.ListScheduled()
	if err != nil || len(list) != 2*len(exports.MonthlyReports) {
		t.Fatal(list, err)
	}
	failed := 0
	for _, sc := range list {
		if sc.Status == exports.Failed {
			failed++
			if _, err := m.ScheduledFile(sc.Name); err == nil || sc.Error == "" {
				t.Errorf("failed report %+v has a file", sc)
			}
		}
	}
	if failed != len(exports.MonthlyReports) {
		t.Errorf("%d failed, want %d", failed, len(exports.MonthlyReports))
	}
	for _, bad := range []string{"../x.xlsx", "a/b.xlsx", "x.json"} {
		if _, err := m.ScheduledFile(bad); err == nil {
			t.Errorf("served %q", bad)
		}
	}
	if f, l := exports.LastMonth(time.Date(2026, 1, 1, 0, 30, 0, 0, model.Local)); f != "2025-12-01" || l != "2025-12-31" {
		t.Errorf("last month of 2026-01-01: %s–%s", f, l)
	}
}

// TestMissedMonthlyRunCaughtUp: a service stopped over the 1st of the month
// writes that month's reports when its schedule starts again (on the
// injected clock, a week later), after the marts are ready, with the
// records saying they were caught up; started again, it writes nothing.
func TestMissedMonthlyRunCaughtUp(t *testing.T) {
	r := pilot(t)
	m := &exports.Manager{Source: r, Rules: reports.DefaultRules(), Dir: t.TempDir(), Logger: quiet}
	now := time.Date(2026, 10, 8, 9, 0, 0, 0, model.Local)
	ready := 0
	s := &exports.Schedule{Manager: m, Spec: exports.DefaultMonthly, Dims: r.Dimensions, Logger: quiet,
		Now: func() time.Time { return now }, Ready: func(context.Context) error { ready++; return nil }}
	due, missing, err := s.Missed()
	if err != nil || !due.Equal(time.Date(2026, 10, 1, 6, 0, 0, 0, model.Local)) || len(missing) != len(exports.MonthlyReports) {
		t.Fatalf("missed on %s: due %s, %v, %v", now, due, missing, err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	s.Stop() // waits for the catch-up
	list, err := m.ListScheduled()
	if err != nil || len(list) != len(exports.MonthlyReports) || ready != 1 {
		t.Fatalf("after the restart: %d records (%v), marts readied %d times", len(list), err, ready)
	}
	for _, sc := range list {
		if sc.Status != exports.Done || sc.From != "2026-09-01" || sc.To != "2026-09-30" || !sc.CaughtUp || !sc.Due.Equal(due) {
			t.Errorf("caught-up record %+v", sc)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if again, _ := m.ListScheduled(); len(again) != len(list) || ready != 1 {
		t.Fatalf("a second start wrote again: %d records, readied %d times", len(again), ready)
	}
	// On the 1st before 06:00 the run due is September's, looked for in August's data.
	now = time.Date(2026, 10, 1, 5, 59, 0, 0, model.Local)
	if due, _, _ := s.Missed(); !due.Equal(time.Date(2026, 9, 1, 6, 0, 0, 0, model.Local)) {
		t.Errorf("due before 06:00 on the 1st: %s", due)
	}
}
