package etl

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/zhiliao/zhiliao/model"
)

// Unassigned names id 0 of a dimension: slots rostered for no project in
// particular, activity without a staff member.
const Unassigned = "未指定"

// UnitLabels name in Chinese the units a rating rule looks at (the
// data_quality detail's entity codes), for the evidence an evaluator reads.
var UnitLabels = map[string]string{"record": "治疗记录", "session": "治疗", "appointment": "预约", "survey": "满意度问卷", "followup": "随访"}

// FailReasons say, per rule (item/dimension), why a unit fails it: what the
// rule's SQL (units.sql) found missing or wrong. The standard states the
// rules, not these words; they are ours, and are shown beside every
// failing unit of the 抽查记录 sheets and the quality page's drill.
var FailReasons = map[string]string{
	"06.01/有效应用":               "治疗已完成，但执行记录未签署",
	"06.01.3/一致性":              "记录的项目代码或名称与项目字典不一致",
	"06.01.4/完整性":              "缺患者编号、患者姓名或项目名称（空白或占位符）",
	"06.01.5/完整性":              "缺治疗结束时间或执行人",
	"06.01.5/整合性":              "执行与治疗计划（疗程）的患者或项目不符",
	"06.01.6/完整性":              "预约缺计划时间，或预约项目与疗程计划不符",
	"06.01.6/及时性":              "时间顺序不符：应为 申请早于计划、计划早于执行",
	"smart.appointment/电子预约覆盖": "非电子渠道预约（现场或电话）",
	"smart.feedback/电子调查覆盖":    "非电子问卷（纸质或电话）",
	"smart.followup/电子随访覆盖":    "非电子随访（电话或门诊）",
}

// unitColumns are the columns the label reader adds to data_quality detail
// rows: the unit named in Chinese, 是/否, and the reason of a failure.
const (
	unitLabelCol   = "entity_label"
	passedLabelCol = "passed_label"
	reasonCol      = "fail_reason"
)

// Dim is one member of a dimension (a department, project or staff member)
// as the warehouse holds it now.
type Dim struct {
	ID            int64  `json:"id"`
	Code          string `json:"code"`
	Name          string `json:"name"`
	DeptID        int64  `json:"dept_id,omitempty"`
	InstitutionID int64  `json:"institution_id"`
}

// Dims are the dimensions the marts are sliced by: the filter bar's lists
// and the names beside ids in query results.
type Dims struct {
	Institutions []Dim `json:"institutions"`
	Departments  []Dim `json:"departments"`
	Projects     []Dim `json:"projects"`
	Staff        []Dim `json:"staff"`

	names map[string]map[int64]string // id column → id → name
	at    time.Time
}

// Name is the name of id in the dimension of an id column (dept_id, …).
func (d *Dims) Name(col string, id int64) string { return d.names[col][id] }

// dimsTTL bounds how stale the cached names may be: a renamed project shows
// its new name within this long.
const dimsTTL = 10 * time.Second

// dimsCache is read on every API request: readers load the current
// Dims without locking; one refresher at a time replaces them.
type dimsCache struct {
	mu   sync.Mutex
	dims atomic.Pointer[Dims]
}

// Dimensions reads the departments, projects and staff of the warehouse
// (cached for a few seconds: every query result names its ids).
func (r *Runner) Dimensions(ctx context.Context) (out *Dims, err error) {
	if d := r.dims.dims.Load(); d != nil && time.Since(d.at) < dimsTTL {
		return d, nil
	}
	r.dims.mu.Lock()
	defer r.dims.mu.Unlock()
	if d := r.dims.dims.Load(); d != nil && time.Since(d.at) < dimsTTL {
		return d, nil
	}
	d := &Dims{names: map[string]map[int64]string{}, at: time.Now()}
	defer func() {
		// While a shard of a regional warehouse is down, the names last
		// read stand in: the departments of the shards that answer can
		// still be read, and those of the lost shard are named in the
		// refusal of any read that needs them.
		if old := r.dims.dims.Load(); err != nil && old != nil && model.ErrorRule(err) == RuleShardUnavailable {
			r.logger().Warn("etl: dimensions from the last read while a shard is down", "err", err)
			out, err = old, nil
		}
	}()
	read := func(q string, withDept bool) ([]Dim, map[int64]string, error) {
		rows, err := r.query(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		list, names := make([]Dim, 0, len(rows)), make(map[int64]string, len(rows))
		for _, row := range rows {
			dm := Dim{ID: row[0].(int64), Code: row[1].(string), Name: row[2].(string), InstitutionID: row[3].(int64)}
			if withDept {
				dm.DeptID = row[4].(int64)
			}
			list = append(list, dm)
			names[dm.ID] = dm.Name
		}
		return list, names, nil
	}
	if d.Institutions, d.names[InstitutionKey], err = read("SELECT id, code, name, institution_id FROM cur_institution ORDER BY code, id", false); err != nil {
		return nil, err
	}
	if d.Departments, d.names["dept_id"], err = read("SELECT id, code, name, institution_id FROM cur_department ORDER BY code, id", false); err != nil {
		return nil, err
	}
	if d.Projects, d.names["project_id"], err = read("SELECT id, code, name, institution_id, dept_id FROM cur_project ORDER BY code, id", true); err != nil {
		return nil, err
	}
	if d.Staff, d.names["staff_id"], err = read("SELECT id, code, name, institution_id, dept_id FROM cur_staff ORDER BY code, id", true); err != nil {
		return nil, err
	}
	r.dims.dims.Store(d)
	return d, nil
}

// withLabels adds a name column after every id key of rr's schema
// (dept_name after dept_id, …) and patient_name after patient_id, masked
// when deidentify is set.
func (r *Runner) withLabels(ctx context.Context, rr array.RecordReader, deidentify ...bool) (array.RecordReader, error) {
	return r.withLabelsOf(ctx, rr, len(deidentify) > 0 && deidentify[0], nil)
}

// Identity is a patient as the core knows them: the name in clear and the
// MRN, for a reader whose work needs them (the warehouse may hold names
// only masked, and never an MRN).
type Identity struct{ Name, MRN string }

// Identities looks up, in the core, the patients of ids the reader may
// identify; a patient left out of the map is shown as the warehouse has it.
type Identities func(ctx context.Context, ids []int64) (map[int64]Identity, error)

// withLabelsOf is withLabels with, when identities is set, the patients'
// names from the core and their MRN (patient_mrn) beside them.
func (r *Runner) withLabelsOf(ctx context.Context, rr array.RecordReader, mask bool, identities Identities) (array.RecordReader, error) {
	dims, err := r.Dimensions(ctx)
	if err != nil {
		rr.Release()
		return nil, err
	}
	lr := &labelReader{ctx: ctx, r: r, src: rr, dims: dims, refs: 1, mask: mask, identities: identities}
	var fields []arrow.Field
	idx := map[string]int{}
	for i, f := range rr.Schema().Fields() {
		idx[f.Name] = i
		fields = append(fields, f)
		lr.plan = append(lr.plan, labelPlan{src: i})
		name := labelOf[f.Name]
		if f.Name == "patient_id" {
			name = "patient_name"
		}
		if name != "" {
			fields = append(fields, arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true})
			lr.plan = append(lr.plan, labelPlan{src: i, label: f.Name})
		}
		if f.Name == "patient_id" && identities != nil && !mask {
			fields = append(fields, arrow.Field{Name: mrnCol, Type: arrow.BinaryTypes.String, Nullable: true})
			lr.plan = append(lr.plan, labelPlan{src: i, label: mrnCol})
		}
	}
	// Rating units (data_quality detail): named, judged and explained in Chinese.
	if e, okE := idx["entity"]; okE {
		if p, okP := idx["passed"]; okP {
			lr.item, lr.dimension, lr.passed = idx["item"], idx["dimension"], p
			for _, c := range []struct{ name, kind string }{{unitLabelCol, "unit"}, {passedLabelCol, "passed"}, {reasonCol, "reason"}} {
				fields = append(fields, arrow.Field{Name: c.name, Type: arrow.BinaryTypes.String, Nullable: true})
				lr.plan = append(lr.plan, labelPlan{src: e, label: c.kind, unit: true})
			}
		}
	}
	lr.schema = arrow.NewSchema(fields, nil)
	return lr, nil
}

type labelPlan struct {
	src   int
	label string // "" copies the source column; else the id column it names
	// unit: label is one of the rating unit's columns (unit, passed, reason).
	unit bool
}

type labelReader struct {
	ctx    context.Context
	r      *Runner
	src    array.RecordReader
	dims   *Dims
	schema *arrow.Schema
	plan   []labelPlan
	mask   bool
	// identities, when set, names the page's patients from the core
	// (names in clear, MRNs) instead of the warehouse.
	identities Identities
	ids        map[int64]Identity // this record's, looked up once
	// item, dimension and passed are the source columns a rating unit's
	// labels read (data_quality detail).
	item, dimension, passed int
	cur                     arrow.Record
	err                     error
	refs                    int64
}

func (l *labelReader) Retain() { atomic.AddInt64(&l.refs, 1) }
func (l *labelReader) Release() {
	if atomic.AddInt64(&l.refs, -1) == 0 {
		if l.cur != nil {
			l.cur.Release()
			l.cur = nil
		}
		l.src.Release()
	}
}
func (l *labelReader) Schema() *arrow.Schema { return l.schema }
func (l *labelReader) Record() arrow.Record  { return l.cur }
func (l *labelReader) Err() error {
	if l.err != nil {
		return l.err
	}
	return l.src.Err()
}

func (l *labelReader) Next() bool {
	if l.cur != nil {
		l.cur.Release()
		l.cur = nil
	}
	if l.err != nil || !l.src.Next() {
		return false
	}
	rec := l.src.Record()
	cols := make([]arrow.Array, len(l.plan))
	for i, p := range l.plan {
		if p.label == "" {
			cols[i] = rec.Column(p.src)
			cols[i].Retain()
			continue
		}
		if p.unit {
			if cols[i], l.err = l.unitLabels(rec, p); l.err != nil {
				break
			}
			continue
		}
		ids, ok := rec.Column(p.src).(*array.Int64)
		if !ok {
			l.err = errNotIDs(p.label)
			break
		}
		names := l.dims.names[p.label]
		if p.label == "patient_id" || p.label == mrnCol {
			if names, l.err = l.patientLabels(ids, p.label == mrnCol); l.err != nil {
				break
			}
		}
		b := array.NewStringBuilder(memory.DefaultAllocator)
		b.Reserve(ids.Len())
		for j := 0; j < ids.Len(); j++ {
			if ids.IsNull(j) {
				b.AppendNull()
				continue
			}
			name, ok := names[ids.Value(j)]
			if !ok && ids.Value(j) == 0 {
				name = Unassigned
			}
			if p.label == "patient_id" && l.mask {
				name = model.MaskName(name)
			}
			b.Append(name)
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	if l.err != nil {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
		return false
	}
	l.cur = array.NewRecord(l.schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return true
}

// unitLabels is one of the columns naming rating units: the unit in
// Chinese, 是/否, or the failing rule's reason ("" for a unit that passed).
func (l *labelReader) unitLabels(rec arrow.Record, p labelPlan) (arrow.Array, error) {
	entity, ok1 := rec.Column(p.src).(*array.String)
	item, ok3 := rec.Column(l.item).(*array.String)
	dim, ok4 := rec.Column(l.dimension).(*array.String)
	if !ok1 || !ok3 || !ok4 {
		return nil, errNotIDs("entity")
	}
	passed := rec.Column(l.passed)
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	for j := 0; j < int(rec.NumRows()); j++ {
		var failed bool
		switch v := passed.(type) { // 1 or 0: Int64 on ClickHouse, INTEGER on DuckDB
		case *array.Int64:
			failed = v.Value(j) == 0
		case *array.Int32:
			failed = v.Value(j) == 0
		case *array.Uint8:
			failed = v.Value(j) == 0
		default:
			return nil, errNotIDs("passed")
		}
		switch p.label {
		case "unit":
			name := UnitLabels[entity.Value(j)]
			if name == "" {
				name = entity.Value(j)
			}
			b.Append(name)
		case "passed":
			b.Append(map[bool]string{true: "否", false: "是"}[failed])
		default:
			if failed {
				b.Append(FailReasons[item.Value(j)+"/"+dim.Value(j)])
			} else {
				b.Append("")
			}
		}
	}
	return b.NewArray(), nil
}

type errNotIDs string

func (e errNotIDs) Error() string { return "etl: column " + string(e) + " is not BIGINT ids" }

// mrnCol is the column of the patients' MRNs, beside their names, for a
// reader who may identify them.
const mrnCol = "patient_mrn"

// patientLabels are the names (or, mrn, the MRNs) of the patients of one
// record: from the core when the reader may identify them, else from the
// warehouse (names as it holds them, no MRN).
func (l *labelReader) patientLabels(ids *array.Int64, mrn bool) (map[int64]string, error) {
	if l.identities == nil || l.mask {
		return l.r.patientNames(l.ctx, ids)
	}
	if !mrn { // the name column comes first in a record: look the page up once
		var list []int64
		for j := 0; j < ids.Len(); j++ {
			if !ids.IsNull(j) {
				list = append(list, ids.Value(j))
			}
		}
		var err error
		if l.ids, err = l.identities(l.ctx, list); err != nil {
			return nil, err
		}
	}
	fallback := map[int64]string{}
	if !mrn {
		var err error
		if fallback, err = l.r.patientNames(l.ctx, ids); err != nil {
			return nil, err
		}
	}
	out := make(map[int64]string, ids.Len())
	for j := 0; j < ids.Len(); j++ {
		id := ids.Value(j)
		who, ok := l.ids[id]
		switch {
		case mrn:
			out[id] = who.MRN
		case ok:
			out[id] = who.Name
		default:
			out[id] = fallback[id]
		}
	}
	return out, nil
}

// patientNames reads the names of the patients in ids (one page of detail).
func (r *Runner) patientNames(ctx context.Context, ids *array.Int64) (map[int64]string, error) {
	seen := map[int64]bool{}
	var list []string
	for j := 0; j < ids.Len(); j++ {
		if id := ids.Value(j); !ids.IsNull(j) && !seen[id] {
			seen[id] = true
			list = append(list, strconv.FormatInt(id, 10))
		}
	}
	out := make(map[int64]string, len(list))
	if len(list) == 0 {
		return out, nil
	}
	rows, err := r.query(ctx, "SELECT id, name FROM cur_patient WHERE id IN ("+strings.Join(list, ", ")+")")
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		out[row[0].(int64)] = row[1].(string)
	}
	return out, nil
}
