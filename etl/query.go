package etl

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/zhiliao/zhiliao/model"
)

// Grains a mart query sums over: a row per day, per week (from Monday), per
// month, or one row over the whole range ("all").
var Grains = []string{"day", "week", "month", "all"}

// Query asks a mart for its measures summed over a date range, by period and
// by some of its keys, within a slice. Callers (the API) put the actor's
// department scope into Depts; the query never widens it.
type Query struct {
	From, To string   // inclusive days, YYYY-MM-DD
	Grain    string   // one of Grains; "" is "day"
	GroupBy  []string // key columns besides day, e.g. dept_id, staff_id
	Measures []string // nil: every measure
	// Ints and Texts filter key columns to the listed values: Ints for
	// dept_id, project_id and staff_id, Texts for visit_type, item and
	// dimension. A nil list does not filter; an empty one matches nothing.
	Ints  map[string][]int64
	Texts map[string][]string
}

// ParamOf is the URL parameter that filters a key column.
var ParamOf = map[string]string{"dept_id": "dept", "project_id": "project", "staff_id": "staff",
	"visit_type": "visit_type", "item": "item", "dimension": "dimension"}

// labelOf is the name column added beside an id key.
var labelOf = map[string]string{"dept_id": "dept_name", "project_id": "project_name", "staff_id": "staff_name",
	InstitutionKey: "institution_name"}

// InstitutionKey groups and filters every mart with departments by the
// institution that holds them (a regional warehouse's comparison). The marts
// carry no such column: a department's institution is a fact of the
// department dimension, so a query spells it from the dimension (Runner.Query)
// and a filter on it becomes one on the institution's departments.
const InstitutionKey = "institution_id"

// Validate checks q against m and fills defaults; errors name the parameter.
func (q *Query) Validate(m *Mart) error {
	from, err := time.Parse("2006-01-02", q.From)
	if err != nil || !validDay(q.From) {
		return model.Invalid("from", "from 应为日期 YYYY-MM-DD want a day YYYY-MM-DD")
	}
	to, err := time.Parse("2006-01-02", q.To)
	if err != nil || !validDay(q.To) {
		return model.Invalid("to", "to 应为日期 YYYY-MM-DD want a day YYYY-MM-DD")
	}
	if to.Before(from) {
		return model.Invalid("to", "to 早于 from：日期范围颠倒 the range is reversed")
	}
	if to.Sub(from) > 3*366*24*time.Hour {
		return model.Invalid("to", "日期范围超过三年 the range is longer than three years")
	}
	if q.Grain == "" {
		q.Grain = "day"
	}
	known := false
	for _, g := range Grains {
		known = known || g == q.Grain
	}
	if !known {
		return model.Invalid("grain", "grain 应为 day、week、month 或 all")
	}
	seen := map[string]bool{}
	_, withDepts := m.Key("dept_id")
	for _, k := range q.GroupBy {
		if k == InstitutionKey && withDepts {
			seen[k] = true
			continue
		}
		if _, ok := m.Key(k); !ok || k == "day" {
			return model.Invalid("group_by", "%s 不是%s的维度 is not a key of mart %s", k, m.Title, m.Name)
		}
		if seen[k] {
			return model.Invalid("group_by", "%s 重复 is repeated", k)
		}
		seen[k] = true
	}
	if q.Measures == nil {
		for _, c := range m.Measures {
			q.Measures = append(q.Measures, c.Name)
		}
	}
	if len(q.Measures) == 0 {
		return model.Invalid("measures", "至少需要一个指标 at least one measure")
	}
	for _, name := range q.Measures {
		if _, ok := m.Measure(name); !ok {
			return model.Invalid("measures", "%s 不是%s的指标 is not a measure of mart %s", name, m.Title, m.Name)
		}
	}
	for k := range q.Ints {
		if k == InstitutionKey && withDepts {
			continue
		}
		if _, ok := m.Key(k); !ok {
			return model.Invalid(ParamOf[k], "%s不能按 %s 筛选 mart %s has no %s", m.Title, ParamOf[k], m.Name, k)
		}
	}
	for k := range q.Texts {
		if _, ok := m.Key(k); !ok {
			return model.Invalid(ParamOf[k], "%s不能按 %s 筛选 mart %s has no %s", m.Title, ParamOf[k], m.Name, k)
		}
	}
	return nil
}

// where is the filter of q over a table or subquery with the mart's keys,
// and the arguments of its text placeholders.
func (q *Query) where(d dialect) (string, []any) {
	conds := []string{"day >= " + d.date(q.From), "day <= " + d.date(q.To)}
	var args []any
	for _, k := range sortedKeys(q.Ints) {
		ids := q.Ints[k]
		if len(ids) == 0 {
			conds = append(conds, "1 = 0")
			continue
		}
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.FormatInt(id, 10)
		}
		conds = append(conds, k+" IN ("+strings.Join(s, ", ")+")")
	}
	for _, k := range sortedKeys(q.Texts) {
		vals := q.Texts[k]
		if len(vals) == 0 {
			conds = append(conds, "1 = 0")
			continue
		}
		conds = append(conds, k+" IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")+")")
		for _, v := range vals {
			args = append(args, v)
		}
	}
	return strings.Join(conds, " AND "), args
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// days lists every day of q's range, for the detail SQL's day macros.
func (q *Query) days() []string {
	from, _ := time.Parse("2006-01-02", q.From)
	to, _ := time.Parse("2006-01-02", q.To)
	var out []string
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format("2006-01-02"))
	}
	return out
}

// sql renders q over mart m. Sums are aliased apart from the mart's column
// names and renamed outside, because ClickHouse 18.16 resolves an alias equal
// to a column name inside the aggregate that defines it. A Distinct measure
// (治疗人数) is counted distinct over its own mart's patient rows with the
// same filter and grouping, and joined on the group keys.
func (q *Query) sql(d dialect, m *Mart, institutionOf string) (string, []any) {
	var keys, group []string
	if q.Grain != "all" {
		keys = append(keys, d.period[q.Grain]+" AS period")
		group = append(group, "period")
	}
	for _, k := range q.GroupBy {
		if k == InstitutionKey {
			keys = append(keys, institutionOf+" AS "+k)
		} else {
			keys = append(keys, k)
		}
		group = append(group, k)
	}
	var sums, distincts []string
	bridge := ""
	outer := append([]string{}, group...)
	for _, name := range q.Measures {
		c, _ := m.Measure(name)
		if c.Distinct != "" {
			bridge = c.Distinct
			distincts = append(distincts, d.countDistinct("patient_id")+" AS s_"+name)
			outer = append(outer, "COALESCE(s_"+name+", 0) AS "+name)
			continue
		}
		sums = append(sums, d.sumInt(name)+" AS s_"+name)
		outer = append(outer, "s_"+name+" AS "+name)
	}
	where, args := q.where(d)
	agg := func(table string, measures []string) string {
		s := "SELECT " + strings.Join(append(append([]string{}, keys...), measures...), ", ") + " FROM " + table + " WHERE " + where
		if len(group) > 0 {
			s += " GROUP BY " + strings.Join(group, ", ")
		}
		return "(" + s + ")"
	}
	var from string
	switch {
	case bridge == "":
		from = agg(m.Table(), sums) + " t"
	case len(sums) == 0:
		from = agg("mart_"+bridge, distincts) + " t"
	case len(group) == 0: // one row each
		from = agg(m.Table(), sums) + " t CROSS JOIN " + agg("mart_"+bridge, distincts) + " u"
		args = append(args, args...)
	default:
		from = d.leftJoinUsing(agg(m.Table(), sums)+" t", agg("mart_"+bridge, distincts)+" u", group)
		args = append(args, args...)
	}
	s := "SELECT " + strings.Join(outer, ", ") + " FROM " + from
	if len(group) > 0 {
		s += " ORDER BY " + strings.Join(group, ", ")
	}
	return s, args
}

// Query runs q over mart m and streams the result: period (unless grain is
// all), each group key followed by its name for id keys (dept_name,
// project_name, staff_name), then the measures.
func (r *Runner) Query(ctx context.Context, m *Mart, q Query) (array.RecordReader, error) {
	if err := q.Validate(m); err != nil {
		return nil, err
	}
	d, err := r.dialect()
	if err != nil {
		return nil, err
	}
	if err := r.ensureSchemaLocked(ctx, d); err != nil {
		return nil, err
	}
	institutionOf, err := r.institutions(ctx, d, &q)
	if err != nil {
		return nil, err
	}
	s, args := q.sql(d, m, institutionOf)
	rr, err := r.read(withScope(ctx, &q), s, args...)
	if err != nil {
		return nil, fmt.Errorf("query mart %s: %w", m.Name, err)
	}
	return r.withLabels(ctx, rr)
}

// DetailQuery asks for the detail rows behind a cell: the units a mart
// counts on the days of the range within a slice, a page at a time.
type DetailQuery struct {
	Query
	Limit, Offset int
	// Deidentify masks patient names (evaluators, exports without identity).
	Deidentify bool
	// Sample, when set, draws a reproducible stratified random sample
	// instead of a page (Limit and Offset are then ignored).
	Sample *Sample
	// Download lifts the page limit to MaxDownloadRows: a whole selection
	// streamed to a file, not a page for the screen.
	Download bool
	// Failing keeps only the units that failed their rule (a detail with a
	// passed column: data_quality), the quality office's worklist.
	Failing bool
	// Identities, for a reader who may identify the patients, names them
	// from the core with their MRN (policy.SeesIdentity); nil: as the
	// warehouse holds them.
	Identities Identities
}

// MaxDownloadRows is the most detail rows one download reads.
const MaxDownloadRows = 500_000

// Sample is a stratified random sample of detail rows: in every stratum
// (a calendar month × the By columns), the PerStratum rows with the lowest
// sample key, unit id × SampleMultiplier(Seed) mod SamplePrime. The key is
// plain integer arithmetic, the same on every engine and recomputable by an
// evaluator in a spreadsheet from the multiplier printed on 说明, so the same
// seed draws the same sample; the seed picks the multiplier through a
// mixing function, so neighbouring seeds order the units unrelatedly.
type Sample struct {
	Seed       uint32
	PerStratum int
	By         []string // detail or key columns, e.g. item, dimension, passed
}

// SamplePrime is the modulus of the sample key (the largest prime below 2³²).
const SamplePrime = 4294967291

// SampleMultiplier is the multiplier a seed gives the sample key: splitmix64
// of the seed, reduced to 1 … SamplePrime−1.
func SampleMultiplier(seed uint32) int64 {
	z := uint64(seed) + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return int64(z%(SamplePrime-1)) + 1
}

// SampleKey is a unit's sample key under seed (see Sample).
func SampleKey(id int64, seed uint32) int64 { return id * SampleMultiplier(seed) % SamplePrime }

// Detail runs a detail query and returns the page (the mart's keys with
// their names, then its Detail columns, ordered by day and unit) and the
// number of rows across all pages.
func (r *Runner) Detail(ctx context.Context, m *Mart, q DetailQuery) (array.RecordReader, int64, error) {
	q.Measures = []string{m.Measures[0].Name}
	if err := q.Validate(m); err != nil {
		return nil, 0, err
	}
	ctx = withScope(ctx, &q.Query)
	if q.Sample != nil {
		q.Limit, q.Offset = 1, 0
		if q.Sample.PerStratum < 1 || q.Sample.PerStratum > 1000 {
			return nil, 0, model.Invalid("sample_rows", "每层抽样数应为 1–1000 want 1–1000 rows per stratum")
		}
	}
	if max := 10000; q.Limit < 1 || q.Limit > max && !(q.Download && q.Limit <= MaxDownloadRows) {
		return nil, 0, model.Invalid("page_size", "page_size 应为 1–%d", max)
	}
	if q.Offset < 0 {
		return nil, 0, model.Invalid("page", "page 应为正整数")
	}
	if len(m.Detail) == 0 {
		return nil, 0, model.Invalid("mart", "%s没有明细 mart %s has no detail rows", m.Title, m.Name)
	}
	d, err := r.dialect()
	if err != nil {
		return nil, 0, err
	}
	body, err := d.detailSQL(m, q.days())
	if err != nil {
		return nil, 0, err
	}
	where, args := q.where(d)
	if q.Failing {
		if !slices.ContainsFunc(m.Detail, func(c Column) bool { return c.Name == "passed" }) {
			return nil, 0, model.Invalid("failing", "%s的明细没有达标判断，不能只看不达标 (mart %s has no pass/fail units)", m.Title, m.Name)
		}
		where += " AND passed = 0"
	}
	rows, err := r.query(ctx, "SELECT count(*) FROM ("+body+") t WHERE "+where, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("detail of %s: %w", m.Name, err)
	}
	total, _ := rows[0][0].(int64)
	order := []string{"day"}
	for _, k := range m.Keys[1:] {
		order = append(order, k.Name)
	}
	order = append(order, m.Detail[0].Name)
	if m.Detail[0].Type == Text { // data_quality: entity, then its id
		order = append(order, m.Detail[1].Name)
	}
	s := fmt.Sprintf("SELECT * FROM (%s) t WHERE %s ORDER BY %s LIMIT %d OFFSET %d", body, where, strings.Join(order, ", "), q.Limit, q.Offset)
	if q.Sample != nil {
		if s, err = q.sampleSQL(d, m, body, where, order); err != nil {
			return nil, 0, err
		}
	}
	rr, err := r.read(ctx, s, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("detail of %s: %w", m.Name, err)
	}
	lr, err := r.withLabelsOf(ctx, rr, q.Deidentify, q.Identities)
	return lr, total, err
}

// sampleSQL draws q.Sample from the detail rows of body: per month and By
// columns, the PerStratum rows of lowest sample key (DuckDB: a window;
// ClickHouse 18.16, which has none: LIMIT n BY), presented in detail order.
func (q *DetailQuery) sampleSQL(d dialect, m *Mart, body, where string, order []string) (string, error) {
	id := m.Detail[0].Name
	if m.Detail[0].Type == Text {
		id = m.Detail[1].Name
	}
	strata := []string{d.period["month"]}
	for _, b := range q.Sample.By {
		_, isKey := m.Key(b)
		isDetail := false
		for _, c := range m.Detail {
			isDetail = isDetail || c.Name == b
		}
		if !isKey && !isDetail {
			return "", model.Invalid("sample", "%s 不是%s的列 is not a column of mart %s", b, m.Title, m.Name)
		}
		strata = append(strata, b)
	}
	// Integer literals are typed as 64-bit on both engines (ClickHouse 18.16
	// types the remainder by its operands and would overflow Int32).
	key := "(" + d.int64(id) + " * " + d.int64(strconv.FormatInt(int64(SampleMultiplier(q.Sample.Seed)), 10)) + " % " + d.int64(strconv.FormatInt(int64(SamplePrime), 10)) + ")"
	return d.sampleBy(body, where, strings.Join(strata, ", "), key, id, q.Sample.PerStratum, strings.Join(order, ", ")), nil
}
