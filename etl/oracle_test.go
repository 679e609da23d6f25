package etl_test

import (
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// The oracle recomputes every mart from the core database directly, in Go:
// another code path (no warehouse, no SQL aggregation) over the same
// definitions. Times are cut to seconds as the warehouse keeps them.

var cst = time.FixedZone("CST", 8*3600)

type row map[string]sql.NullString

func load(tb testing.TB, core *store.DB, table string) map[int64]row {
	tb.Helper()
	rows, err := core.Reader().Query("SELECT * FROM " + table)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[int64]row{}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			tb.Fatal(err)
		}
		r := row{}
		for i, c := range cols {
			r[c] = vals[i]
		}
		out[r.i("id")] = r
	}
	return out
}

func (r row) s(c string) string  { return r[c].String }
func (r row) null(c string) bool { return !r[c].Valid }
func (r row) i(c string) int64 {
	n, _ := strconv.ParseInt(r[c].String, 10, 64)
	return n
}
func (r row) b(c string) bool { return r[c].String == "1" || r[c].String == "true" }
func (r row) t(c string) time.Time {
	t, err := time.Parse("2006-01-02T15:04:05.000Z", r[c].String)
	if err != nil {
		panic(fmt.Sprintf("%s=%q: %v", c, r[c].String, err))
	}
	return t.Truncate(time.Second)
}
func (r row) day(c string) string { return r.t(c).In(cst).Format("2006-01-02") }
func (r row) secs(from, to string) int64 {
	if r.null(from) || r.null(to) {
		return 0
	}
	return int64(r.t(to).Sub(r.t(from)).Seconds())
}

// acc accumulates measures by key.
type acc struct {
	n    int
	rows map[string][]int64
}

func newAcc(measures int) *acc { return &acc{n: measures, rows: map[string][]int64{}} }

func (a *acc) add(key string, i int, v int64) {
	m := a.rows[key]
	if m == nil {
		m = make([]int64, a.n)
		a.rows[key] = m
	}
	m[i] += v
}

func (a *acc) lines() []string {
	var out []string
	for k, m := range a.rows {
		zero := true
		parts := []string{k}
		for _, v := range m {
			parts = append(parts, strconv.FormatInt(v, 10))
			if v != 0 {
				zero = false
			}
		}
		if !zero {
			out = append(out, strings.Join(parts, "|"))
		}
	}
	sort.Strings(out)
	return out
}

func key(parts ...any) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, "|")
}

var scoreRE = map[string]*regexp.Regexp{}

func score(scores, dim string) int64 {
	re := scoreRE[dim]
	if re == nil {
		re = regexp.MustCompile(`"` + dim + `":\s*(-?\d+)`)
		scoreRE[dim] = re
	}
	m := re.FindStringSubmatch(scores)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func oracle(tb testing.TB, core *store.DB) map[string][]string {
	sessions := load(tb, core, "treatment_session")
	records := load(tb, core, "treatment_record")
	assessments := load(tb, core, "assessment")
	apps := load(tb, core, "application")
	courses := load(tb, core, "course")
	followups := load(tb, core, "followup")
	orders := load(tb, core, "his_order")
	appts := load(tb, core, "appointment")
	tickets := load(tb, core, "queue_ticket")
	slots := load(tb, core, "slot")
	surveys := load(tb, core, "survey")
	complaints := load(tb, core, "complaint")
	projects := load(tb, core, "project")
	out := map[string][]string{}

	// workload
	w := newAcc(8)
	patients := map[string]map[int64]bool{}
	secs := map[string]int64{}
	for _, s := range sessions {
		if s.s("status") != "completed" {
			continue
		}
		k := key(s.day("started_at"), s.i("dept_id"), s.i("project_id"), s.i("performer_id"), s.s("visit_type"))
		w.add(k, 0, 1)
		if patients[k] == nil {
			patients[k] = map[int64]bool{}
		}
		patients[k][s.i("patient_id")] = true
		secs[k] += s.secs("started_at", "ended_at")
		w.add(k, 3, s.i("units"))
	}
	for k, p := range patients {
		w.add(k, 1, int64(len(p)))
		w.add(k, 2, secs[k]/60)
	}
	for _, a := range assessments {
		if a.s("status") != "signed" || a.null("signed_at") {
			continue
		}
		ap := apps[a.i("application_id")]
		w.add(key(a.day("signed_at"), a.i("dept_id"), ap.i("project_id"), a.i("assessor_id"), ap.s("visit_type")), 4, 1)
	}
	for _, r := range records {
		if r.null("signed_at") {
			continue
		}
		k := key(r.day("signed_at"), r.i("dept_id"), r.i("project_id"), r.i("signer_id"), sessions[r.i("session_id")].s("visit_type"))
		w.add(k, 5, 1)
		if !r.t("signed_at").After(r.t("due_at")) {
			w.add(k, 6, 1)
		}
	}
	for _, f := range followups {
		if f.s("status") != "done" || f.null("done_at") {
			continue
		}
		ap := apps[courses[f.i("course_id")].i("application_id")]
		w.add(key(f.day("done_at"), f.i("dept_id"), f.i("project_id"), f.i("done_by"), ap.s("visit_type")), 7, 1)
	}
	out["workload"] = w.lines()

	// patients: who was treated, per workload key and patient
	pt := newAcc(1)
	for _, s := range sessions {
		if s.s("status") == "completed" {
			pt.add(key(s.day("started_at"), s.i("dept_id"), s.i("project_id"), s.i("performer_id"), s.s("visit_type"), s.i("patient_id")), 0, 1)
		}
	}
	out["patients"] = pt.lines()

	// revenue: charges, reversals, net, prepaid refunds, sessions, paid orders, paid
	rv := newAcc(7)
	for _, s := range sessions {
		if s.s("status") != "completed" {
			continue
		}
		k := key(s.day("started_at"), s.i("dept_id"), s.i("project_id"), s.s("visit_type"))
		if s.b("charge_confirmed") {
			rv.add(k, 0, s.i("charge_fen"))
			rv.add(k, 2, s.i("charge_fen"))
		}
		rv.add(k, 4, 1)
	}
	for _, o := range orders {
		if !o.null("refunded_at") && o.i("refund_fen") > 0 {
			k := key(o.day("refunded_at"), o.i("dept_id"), o.i("project_id"), o.s("visit_type"))
			prepaid := min(o.i("refund_fen"), (o.i("quantity")-o.i("used_quantity"))*o.i("unit_price_fen"))
			rv.add(k, 1, o.i("refund_fen")-prepaid)
			rv.add(k, 2, -(o.i("refund_fen") - prepaid))
			rv.add(k, 3, prepaid)
		}
		if !o.null("paid_at") {
			k := key(o.day("paid_at"), o.i("dept_id"), o.i("project_id"), o.s("visit_type"))
			rv.add(k, 5, 1)
			rv.add(k, 6, o.i("amount_fen"))
		}
	}
	out["revenue"] = rv.lines()

	// project
	pj := newAcc(16)
	pk := func(day string, r row, project int64) string { return key(day, r.i("dept_id"), project) }
	for _, o := range orders {
		pj.add(pk(o.day("ordered_at"), o, o.i("project_id")), 0, 1)
	}
	for _, a := range apps {
		pj.add(pk(a.day("applied_at"), a, a.i("project_id")), 1, 1)
	}
	for _, a := range appts {
		pj.add(pk(a.day("booked_at"), a, a.i("project_id")), 2, 1)
		if a.s("status") == "cancelled" && !a.null("cancelled_at") {
			pj.add(pk(a.day("cancelled_at"), a, a.i("project_id")), 3, 1)
		}
		if a.s("status") == "no_show" {
			pj.add(pk(a.day("planned_at"), a, a.i("project_id")), 4, 1)
		}
		// due on the planned day unless cancelled before that day
		if a.s("status") != "cancelled" || (!a.null("cancelled_at") && a.day("cancelled_at") >= a.day("planned_at")) {
			pj.add(pk(a.day("planned_at"), a, a.i("project_id")), 15, 1)
		}
	}
	for _, q := range tickets {
		if q.b("walk_in") {
			pj.add(pk(q.s("day"), q, q.i("project_id")), 5, 1)
		}
		if !q.null("started_at") {
			k := pk(q.day("checked_in_at"), q, q.i("project_id"))
			pj.add(k, 11, 1)
			pj.add(k, 12, q.secs("checked_in_at", "started_at"))
		}
	}
	for _, s := range sessions {
		if s.s("status") != "completed" {
			continue
		}
		k := pk(s.day("started_at"), s, s.i("project_id"))
		pj.add(k, 6, 1)
		if s.i("seq_no") == 1 {
			pj.add(k, 9, 1)
			o := orders[s.i("order_id")]
			pj.add(k, 10, int64(s.t("started_at").Sub(o.t("ordered_at")).Seconds()))
		}
	}
	for _, c := range courses {
		pj.add(pk(c.day("started_at"), c, c.i("project_id")), 7, 1)
		if (c.s("status") == "completed" || c.s("status") == "archived") && !c.null("ended_at") {
			pj.add(pk(c.day("ended_at"), c, c.i("project_id")), 8, 1)
		}
	}
	for _, s := range slots {
		k := pk(s.s("day"), s, s.i("project_id"))
		pj.add(k, 13, s.i("capacity"))
		pj.add(k, 14, s.i("booked"))
	}
	out["project"] = pj.lines()

	// satisfaction
	st := newAcc(18)
	for _, f := range followups {
		due := pk(f.s("due_date"), f, f.i("project_id"))
		if f.s("status") != "cancelled" {
			st.add(due, 0, 1)
		}
		switch f.s("status") { // the cohort due on the day: past due, done, done on time
		case "done":
			st.add(due, 15, 1)
			st.add(due, 16, 1)
			if !f.null("done_at") && f.day("done_at") <= f.s("due_date") {
				st.add(due, 2, 1)
			}
		case "missed":
			st.add(due, 15, 1)
		}
		if f.s("status") == "done" && !f.null("done_at") {
			st.add(pk(f.day("done_at"), f, f.i("project_id")), 1, 1)
		}
	}
	for _, v := range surveys {
		st.add(pk(v.day("sent_at"), v, v.i("project_id")), 3, 1)
		if v.s("status") == "answered" {
			st.add(pk(v.day("sent_at"), v, v.i("project_id")), 17, 1)
		}
		if v.s("status") == "answered" && !v.null("answered_at") {
			k := pk(v.day("answered_at"), v, v.i("project_id"))
			st.add(k, 4, 1)
			for i, dim := range []string{"environment", "attitude", "skill", "waiting", "explanation", "overall"} {
				st.add(k, 5+i, score(v.s("scores"), dim))
			}
		}
	}
	for _, c := range complaints {
		var project int64
		if !c.null("course_id") {
			project = courses[c.i("course_id")].i("project_id")
		}
		k := pk(c.day("received_at"), c, project)
		st.add(k, 11, 1)
		if !c.null("replied_at") {
			st.add(k, 12, 1)
			st.add(k, 13, c.secs("received_at", "replied_at"))
		}
	}
	for _, s := range sessions {
		if s.s("adverse_reaction") != "" {
			st.add(pk(s.day("started_at"), s, s.i("project_id")), 14, 1)
		}
	}
	out["satisfaction"] = st.lines()

	// data quality: numerator and denominator per day, department, item, dimension
	dq := newAcc(3)
	count := func(day string, dept int64, item, dim string, ok bool) {
		k := key(day, dept, item, dim)
		if ok {
			dq.add(k, 0, 1)
		}
		dq.add(k, 1, 1)
		if !ok {
			dq.add(k, 2, 1)
		}
	}
	for _, r := range records {
		p := projects[r.i("project_id")]
		if !p.b("emr_scope") {
			continue
		}
		count(r.day("treated_at"), r.i("dept_id"), "06.01.3", "一致性", r.s("project_code") == p.s("code") && r.s("project_name") == p.s("name"))
		count(r.day("treated_at"), r.i("dept_id"), "06.01.4", "完整性", r.i("patient_id") > 0 && filled(r.s("patient_name")) && filled(r.s("project_name")))
	}
	signed := map[int64]bool{} // sessions whose execution record is signed
	for _, r := range records {
		if !r.null("signed_at") {
			signed[r.i("session_id")] = true
		}
	}
	for _, s := range sessions {
		if s.s("status") != "completed" || !projects[s.i("project_id")].b("emr_scope") {
			continue
		}
		d := s.day("started_at")
		count(d, s.i("dept_id"), "06.01", "有效应用", signed[s.i("id")])
		count(d, s.i("dept_id"), "06.01.5", "完整性", !s.null("ended_at") && s.i("performer_id") > 0)
		c, ok := courses[s.i("course_id")]
		count(d, s.i("dept_id"), "06.01.5", "整合性", ok && c.i("patient_id") == s.i("patient_id") && c.i("project_id") == s.i("project_id"))
		if ok && c.i("patient_id") == s.i("patient_id") { // only a plan of the patient's own has times to examine
			ap := apps[c.i("application_id")]
			count(d, s.i("dept_id"), "06.01.6", "及时性", ap.t("applied_at").Before(c.t("started_at")) && c.t("started_at").Before(s.t("started_at")))
		}
	}
	for _, a := range appts {
		p := projects[a.i("project_id")]
		if c, ok := courses[a.i("course_id")]; ok && projects[c.i("project_id")].b("emr_scope") {
			count(a.day("booked_at"), a.i("dept_id"), "06.01.6", "完整性", a.i("project_id") == c.i("project_id") && a.t("planned_at").Unix() > 0)
		}
		if p.b("smart_scope") {
			ch := a.s("channel")
			count(a.day("booked_at"), a.i("dept_id"), "smart.appointment", "电子预约覆盖", ch == "wechat" || ch == "pad" || ch == "kiosk")
		}
	}
	for _, v := range surveys {
		if projects[v.i("project_id")].b("smart_scope") {
			count(v.day("sent_at"), v.i("dept_id"), "smart.feedback", "电子调查覆盖", v.s("channel") == "electronic")
		}
	}
	for _, f := range followups {
		if f.s("status") == "done" && !f.null("done_at") && projects[f.i("project_id")].b("smart_scope") {
			ch := f.s("channel")
			count(f.day("done_at"), f.i("dept_id"), "smart.followup", "电子随访覆盖", ch == "wechat" || ch == "sms")
		}
	}
	out["data_quality"] = dq.lines()
	return out
}

func TestOracle(t *testing.T) { checkOracle(t, pilotCore(t)) }

// checkOracle builds every mart of core on DuckDB and compares each with
// the oracle, row by row.
func checkOracle(t *testing.T, core *store.DB) {
	wh := warehousetest.DuckDB(t).Open(t)
	defer wh.Close()
	ship(t, core, wh)
	mustRun(t, runner(wh), etl.Options{Full: true})
	want := oracle(t, core)
	for _, m := range etl.Marts {
		w, ok := want[m.Name]
		if !ok {
			t.Errorf("no oracle for mart %s", m.Name)
			continue
		}
		got := dump(t, wh, m)
		t.Logf("%s: %d rows, e.g. %s", m.Name, len(got), got[len(got)/2])
		if !slices.Equal(got, w) {
			t.Errorf("%s: mart %d rows, oracle %d rows\n%s", m.Name, len(got), len(w), diff(got, w))
		}
	}
}

// filled is the oracle's own reading of RATING.md's 完整性: not empty after
// every Unicode space (and zero-width space) is removed.
func filled(s string) bool {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' }) != ""
}
