package etl_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// queried runs a mart query and renders its rows as text lines.
func queried(t *testing.T, r *etl.Runner, m *etl.Mart, q etl.Query) ([]string, []string) {
	t.Helper()
	rr, err := r.Query(context.Background(), m, q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range rr.Schema().Fields() {
		names = append(names, f.Name)
	}
	rows, err := warehouse.ReadAll(rr)
	if err != nil {
		t.Fatal(err)
	}
	return names, lines(rows)
}

func lines(rows [][]any) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		parts := make([]string, len(r))
		for i, v := range r {
			if t, ok := v.(time.Time); ok {
				parts[i] = t.Format("2006-01-02")
			} else {
				parts[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

// TestQuery: a mart query sums exactly the mart rows of its range and slice
// by its grain (checked against sums done here over the mart's rows), names
// its ids, and gives the same answer on both engines.
func TestQuery(t *testing.T) {
	core := pilotCore(t)
	results := map[string][]string{}
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		wh, r := built(t, core, e)
		ctx := context.Background()
		dims, err := r.Dimensions(ctx)
		if err != nil || len(dims.Departments) == 0 || len(dims.Staff) == 0 || len(dims.Projects) == 0 {
			t.Fatalf("dimensions %+v %v", dims, err)
		}
		dept := dims.Departments[0]
		m := etl.MartByName("workload")

		// The oracle: every mart row in September, summed by month and staff.
		want := map[string][2]int64{}
		for _, row := range warehousetest.Rows(t, wh, "SELECT day, staff_id, sessions, treatment_minutes FROM mart_workload WHERE dept_id = ?", dept.ID) {
			day := row[0].(time.Time)
			if day.Before(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)) || day.After(time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)) {
				continue
			}
			k := fmt.Sprintf("%s|%d", day.Format("2006-01")+"-01", row[1].(int64))
			w := want[k]
			want[k] = [2]int64{w[0] + row[2].(int64), w[1] + row[3].(int64)}
		}
		names, got := queried(t, r, m, etl.Query{From: "2026-09-01", To: "2026-10-15", Grain: "month", GroupBy: []string{"staff_id"},
			Measures: []string{"sessions", "treatment_minutes"}, Ints: map[string][]int64{"dept_id": {dept.ID}}})
		if !slices.Equal(names, []string{"period", "staff_id", "staff_name", "sessions", "treatment_minutes"}) {
			t.Fatalf("columns %v", names)
		}
		if len(got) != len(want) || len(got) < 2 {
			t.Fatalf("%d rows, want %d: %v", len(got), len(want), got)
		}
		for _, line := range got {
			p := strings.Split(line, "|")
			w, ok := want[p[0]+"|"+p[1]]
			if !ok || fmt.Sprint(w[0]) != p[3] || fmt.Sprint(w[1]) != p[4] || p[2] == "" {
				t.Errorf("row %s: want %v", line, w)
			}
		}

		// Week grain starts on Monday; "all" is one row of totals.
		_, weeks := queried(t, r, m, etl.Query{From: "2026-09-01", To: "2026-09-30", Grain: "week", Measures: []string{"sessions"}})
		var weekSum int64
		for _, line := range weeks {
			p := strings.Split(line, "|")
			d, _ := time.Parse("2006-01-02", p[0])
			if d.Weekday() != time.Monday {
				t.Errorf("week %s does not start on Monday", p[0])
			}
			var n int64
			fmt.Sscan(p[1], &n)
			weekSum += n
		}
		_, total := queried(t, r, m, etl.Query{From: "2026-09-01", To: "2026-09-30", Grain: "all", Measures: []string{"sessions"}})
		wantTotal := warehousetest.Count(t, wh, "SELECT sum(sessions) FROM mart_workload WHERE day >= '2026-09-01' AND day <= '2026-09-30'")
		if len(total) != 1 || total[0] != fmt.Sprint(wantTotal) || weekSum != wantTotal || wantTotal == 0 {
			t.Errorf("total %v, weeks sum %d, want %d", total, weekSum, wantTotal)
		}

		// A filter that matches nothing gives no rows (all: one row of zeros).
		_, none := queried(t, r, m, etl.Query{From: "2026-09-01", To: "2026-09-30", Ints: map[string][]int64{"dept_id": {}}})
		if len(none) != 0 {
			t.Errorf("empty scope returned %v", none)
		}
		_, byVisit := queried(t, r, etl.MartByName("revenue"), etl.Query{From: "2026-09-01", To: "2026-11-30", Grain: "month",
			GroupBy: []string{"dept_id", "visit_type"}, Texts: map[string][]string{"visit_type": {"inpatient"}}})
		for _, line := range byVisit {
			if !strings.Contains(line, "|"+dept.Name+"|inpatient|") {
				t.Errorf("revenue row %s", line)
			}
		}
		results[e.Name] = append(append(append(got, weeks...), total...), byVisit...)
	})
	if d, c := results["duckdb"], results["clickhouse"]; d != nil && c != nil && !slices.Equal(d, c) {
		t.Errorf("engines differ\n%s", diff(d, c))
	}
}

// TestQueryRejects: each bad query names its parameter.
func TestQueryRejects(t *testing.T) {
	m := etl.MartByName("project")
	for _, c := range []struct {
		q     etl.Query
		field string
	}{
		{etl.Query{From: "2026-9-1", To: "2026-09-30"}, "from"},
		{etl.Query{From: "2026-09-01", To: "2026-02-30"}, "to"},
		{etl.Query{From: "2026-09-30", To: "2026-09-01"}, "to"},
		{etl.Query{From: "2020-01-01", To: "2026-09-01"}, "to"},
		{etl.Query{From: "2026-09-01", To: "2026-09-30", Grain: "year"}, "grain"},
		{etl.Query{From: "2026-09-01", To: "2026-09-30", GroupBy: []string{"staff_id"}}, "group_by"},
		{etl.Query{From: "2026-09-01", To: "2026-09-30", GroupBy: []string{"day"}}, "group_by"},
		{etl.Query{From: "2026-09-01", To: "2026-09-30", GroupBy: []string{"dept_id", "dept_id"}}, "group_by"},
		{etl.Query{From: "2026-09-01", To: "2026-09-30", Measures: []string{"sessions", "revenue"}}, "measures"},
		{etl.Query{From: "2026-09-01", To: "2026-09-30", Measures: []string{}}, "measures"},
		{etl.Query{From: "2026-09-01", To: "2026-09-30", Ints: map[string][]int64{"staff_id": {1}}}, "staff"},
		{etl.Query{From: "2026-09-01", To: "2026-09-30", Texts: map[string][]string{"visit_type": {"outpatient"}}}, "visit_type"},
	} {
		err := c.q.Validate(m)
		if model.ErrorCode(err) != model.EINVALID || model.ErrorField(err) != c.field {
			t.Errorf("%+v: %v (field %q), want invalid %s", c.q, err, model.ErrorField(err), c.field)
		}
	}
}

// TestDetail: the detail rows behind a cell are the units its measure
// counts: their number is the cell's value (sessions; a rating rule's
// denominator, with the passed ones its numerator), pages do not overlap,
// and patient names are masked when asked.
func TestDetail(t *testing.T) {
	core := pilotCore(t)
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		wh, r := built(t, core, e)
		ctx := context.Background()

		cell := warehousetest.Rows(t, wh, "SELECT day, dept_id, staff_id, sum(sessions) FROM mart_workload GROUP BY day, dept_id, staff_id HAVING sum(sessions) > 3 ORDER BY day, staff_id LIMIT 1")[0]
		day := cell[0].(time.Time).Format("2006-01-02")
		q := etl.DetailQuery{Query: etl.Query{From: day, To: day, Ints: map[string][]int64{"dept_id": {cell[1].(int64)}, "staff_id": {cell[2].(int64)}}}, Limit: 2}
		var ids []string
		for page := 0; ; page++ {
			q.Offset = page * q.Limit
			rr, total, err := r.Detail(ctx, etl.MartByName("workload"), q)
			if err != nil {
				t.Fatal(err)
			}
			if total != cell[3].(int64) {
				t.Fatalf("detail total %d, cell %d", total, cell[3])
			}
			if name := rr.Schema().Field(8).Name; name != "session_id" {
				t.Fatalf("column 8 is %s: %v", name, rr.Schema())
			}
			rows, err := warehouse.ReadAll(rr)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				break
			}
			for _, row := range rows {
				ids = append(ids, fmt.Sprint(row[8]))
				if row[10] == "" || strings.Contains(row[10].(string), "*") { // patient_name, unmasked
					t.Errorf("patient name %q", row[10])
				}
			}
		}
		if int64(len(ids)) != cell[3].(int64) || len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
			t.Errorf("pages gave %v for %d sessions", ids, cell[3])
		}

		dq := warehousetest.Rows(t, wh, "SELECT day, dept_id, item, dimension, numerator, denominator FROM mart_data_quality WHERE denominator > numerator ORDER BY day, item, dimension LIMIT 1")[0] // a cell with a failing unit
		day = dq[0].(time.Time).Format("2006-01-02")
		rr, total, err := r.Detail(ctx, etl.MartByName("data_quality"), etl.DetailQuery{Query: etl.Query{From: day, To: day,
			Ints: map[string][]int64{"dept_id": {dq[1].(int64)}}, Texts: map[string][]string{"item": {dq[2].(string)}, "dimension": {dq[3].(string)}}},
			Limit: 10000, Deidentify: true})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := warehouse.ReadAll(rr)
		if err != nil {
			t.Fatal(err)
		}
		// … passed, then the unit in Chinese, 是/否 and the failing rule's reason.
		var passed int64
		for _, row := range rows {
			n := len(row)
			ok := row[n-4].(int64)
			passed += ok
			if name := row[n-5].(string); !strings.Contains(name, "*") {
				t.Errorf("evaluator sees patient name %q", name)
			}
			unit, yes, reason := row[n-3].(string), row[n-2].(string), row[n-1].(string)
			if unit != etl.UnitLabels[row[n-8].(string)] || unit == "" || yes != map[int64]string{1: "是", 0: "否"}[ok] || (ok == 0) != (reason != "") {
				t.Errorf("unit %q, passed %d as %q, reason %q", unit, ok, yes, reason)
			}
		}
		if total != dq[5].(int64) || int64(len(rows)) != total || passed != dq[4].(int64) {
			t.Errorf("data quality cell %v: detail %d rows (total %d), %d passed", dq, len(rows), total, passed)
		}
	})
}

// TestPatientsAreDistinctOverThePeriod: 治疗人数 of any period and slice is
// the number of distinct patients the core treated in it, counted here from
// the core's sessions; never the sum of daily distinct counts, which the
// test checks is larger in the same slice (so the test can tell them apart).
// Asked with and without other measures, by staff over the whole pilot, by
// month, and as one figure, on both engines.
func TestPatientsAreDistinctOverThePeriod(t *testing.T) {
	core := pilotCore(t)
	type cell struct {
		staff int64
		month string
	}
	truth := map[cell]map[int64]bool{}
	daily := map[cell]map[string]bool{} // staff, month → "day/patient" seen: the sum of daily distinct counts
	rows, err := core.Reader().Query("SELECT performer_id, patient_id, started_at FROM treatment_session WHERE status = 'completed'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var staff, patient int64
		var started string
		if err := rows.Scan(&staff, &patient, &started); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, started)
		if err != nil {
			t.Fatal(err)
		}
		day := at.In(model.Local).Format("2006-01-02")
		for _, c := range []cell{{staff, day[:7]}, {staff, ""}, {0, ""}} {
			if truth[c] == nil {
				truth[c], daily[c] = map[int64]bool{}, map[string]bool{}
			}
			truth[c][patient] = true
			daily[c][fmt.Sprint(day, "/", patient)] = true
		}
	}
	rows.Close()
	if all := (cell{0, ""}); len(daily[all]) <= len(truth[all]) {
		t.Fatalf("the pilot cannot tell a distinct count from a sum of daily ones: %d vs %d", len(truth[all]), len(daily[all]))
	}
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		_, r := built(t, core, e)
		m := etl.MartByName("workload")
		for _, measures := range [][]string{{"patients"}, {"sessions", "patients", "units"}} {
			_, got := queried(t, r, m, etl.Query{From: "2026-01-01", To: "2026-12-31", Grain: "all", Measures: measures})
			if want := len(truth[cell{0, ""}]); len(got) != 1 || !strings.Contains("|"+got[0]+"|", fmt.Sprintf("|%d|", want)) {
				t.Errorf("measures %v: whole pilot %v, want %d distinct patients", measures, got, want)
			}
			names, got := queried(t, r, m, etl.Query{From: "2026-01-01", To: "2026-12-31", Grain: "month", GroupBy: []string{"staff_id"}, Measures: measures})
			col := slices.Index(names, "patients")
			for _, line := range got {
				parts := strings.Split(line, "|")
				var staff int64
				fmt.Sscan(parts[1], &staff)
				if want := fmt.Sprint(len(truth[cell{staff, parts[0][:7]}])); parts[col] != want {
					t.Errorf("measures %v: staff %d in %s: %s patients, want %s", measures, staff, parts[0][:7], parts[col], want)
				}
			}
			if len(got) == 0 {
				t.Errorf("measures %v: no rows by month and staff", measures)
			}
		}
	})
}

// TestRevenueSplitsRefunds: a refund is split into 冲减 (reversal of executed
// charges) and 预交款退费 (the order's unexecuted sessions), which together
// are every refund the core recorded; 净收入 is 治疗收入 − 冲减, so refunds of
// prepayment never lower treatment revenue. The pilot has both kinds.
func TestRevenueSplitsRefunds(t *testing.T) {
	core := pilotCore(t)
	var refunds, charges int64
	core.Reader().QueryRow("SELECT COALESCE(sum(refund_fen), 0) FROM his_order WHERE refunded_at IS NOT NULL").Scan(&refunds)
	core.Reader().QueryRow("SELECT COALESCE(sum(charge_fen), 0) FROM treatment_session WHERE status = 'completed' AND charge_confirmed").Scan(&charges)
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		_, r := built(t, core, e)
		names, got := queried(t, r, etl.MartByName("revenue"), etl.Query{From: "2026-01-01", To: "2027-12-31", Grain: "all",
			Measures: []string{"charges_fen", "reversals_fen", "net_fen", "prepaid_refunds_fen"}})
		if len(got) != 1 {
			t.Fatalf("%v %v", names, got)
		}
		var c, rev, net, prepaid int64
		fmt.Sscanf(got[0], "%d|%d|%d|%d", &c, &rev, &net, &prepaid)
		if rev <= 0 || prepaid <= 0 {
			t.Errorf("the pilot should have both kinds of refund: 冲减 %d, 预交款退费 %d", rev, prepaid)
		}
		if rev+prepaid != refunds || c != charges || net != c-rev {
			t.Errorf("治疗收入 %d (core %d), 冲减 %d + 预交款退费 %d = %d (core refunds %d), 净收入 %d", c, charges, rev, prepaid, rev+prepaid, refunds, net)
		}
	})
}
