// Package etl owns the marts: their definitions (columns, and SQL per engine
// as embedded files side by side in sql/duckdb and sql/clickhouse), the runs
// that rebuild them from the warehouse's raw layer (incremental: only the
// days touched since the last watermark; full: everything), the run log and
// freshness, and the cron scheduler that runs them inside `zhiliao serve`.
//
// It reaches the warehouse only through the warehouse interface; nothing
// outside this package knows a mart's SQL.
package etl

// ColumnType is the type of a mart column.
type ColumnType int

const (
	Date ColumnType = iota
	Int
	Text
	Time // an instant, UTC; only in detail rows
)

// Column is one column of a mart.
type Column struct {
	Name  string
	Type  ColumnType
	Title string // 中文 header, shared with dashboards and reports
	// Distinct, on a measure, names the mart whose patient_id rows it
	// counts distinct over a query's whole period and slice: a 人数 is
	// never a sum of daily distinct counts. The mart's own column holds the
	// count at its row grain.
	Distinct string
}

// Mart is one mart: its key columns (day first) and its measures, all
// additive integers, so that any period or slice is a sum of rows (averages
// and coefficients are kept as sums and counts).
type Mart struct {
	Name     string
	Title    string
	Keys     []Column
	Measures []Column
	// Detail are the columns of the rows behind a cell (drill-down), after
	// the mart's keys: the units its main measure counts, one row each.
	Detail []Column
}

// Table is the mart's table in the warehouse.
func (m *Mart) Table() string { return "mart_" + m.Name }

// Columns lists keys then measures.
func (m *Mart) Columns() []Column { return append(append([]Column{}, m.Keys...), m.Measures...) }

func measures(pairs ...string) []Column {
	out := make([]Column, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, Column{Name: pairs[i], Type: Int, Title: pairs[i+1]})
	}
	return out
}

func detail(triples ...any) []Column {
	out := make([]Column, 0, len(triples)/3)
	for i := 0; i < len(triples); i += 3 {
		out = append(out, Column{Name: triples[i].(string), Type: triples[i+1].(ColumnType), Title: triples[i+2].(string)})
	}
	return out
}

var (
	day       = Column{Name: "day", Type: Date, Title: "日期"}
	dept      = Column{Name: "dept_id", Type: Int, Title: "科室"}
	project   = Column{Name: "project_id", Type: Int, Title: "项目"}
	staff     = Column{Name: "staff_id", Type: Int, Title: "人员"}
	visitType = Column{Name: "visit_type", Type: Text, Title: "门诊/住院"}
)

// Marts are the marts of DESIGN.md §4, in the order runs build them.
var Marts = []*Mart{
	{Name: "workload", Title: "工作量", Keys: []Column{day, dept, project, staff, visitType}, Measures: append(append(measures(
		"sessions", "治疗人次"), Column{Name: "patients", Type: Int, Title: "治疗人数", Distinct: "patients"}), measures(
		"treatment_minutes", "治疗时长(分钟)", "units", "治疗单位",
		"assessments", "评估数", "records_filed", "记录签署数", "records_on_time", "按时签署数", "followups_done", "完成随访数")...),
		Detail: detail("session_id", Int, "治疗编号", "patient_id", Int, "患者编号", "started_at", Time, "开始时间",
			"ended_at", Time, "结束时间", "minutes", Int, "时长(分钟)", "units", Int, "治疗单位", "seq_no", Int, "疗程第几次")},
	{Name: "revenue", Title: "收入", Keys: []Column{day, dept, project, visitType}, Measures: measures(
		"charges_fen", "治疗收入(分)", "reversals_fen", "冲减(分)", "net_fen", "净收入(分)", "prepaid_refunds_fen", "预交款退费(分)", "sessions", "治疗人次",
		"paid_orders", "缴费医嘱数", "paid_fen", "缴费金额(分)"),
		Detail: detail("session_id", Int, "治疗编号", "patient_id", Int, "患者编号", "started_at", Time, "开始时间",
			"charge_fen", Int, "收费(分)", "charge_confirmed", Int, "已确认收费")},
	{Name: "project", Title: "项目", Keys: []Column{day, dept, project}, Measures: measures(
		"orders", "医嘱数", "applications", "申请数", "appointments_booked", "预约数", "appointments_cancelled", "取消预约数",
		"no_shows", "爽约数", "walk_ins", "现场加号数", "sessions", "治疗人次", "courses_started", "开始疗程数",
		"courses_completed", "完成疗程数", "first_sessions", "首次治疗数", "order_wait_seconds", "医嘱至首次治疗等待(秒)",
		"queue_waits", "排队人次", "queue_wait_seconds", "排队等待(秒)", "slot_capacity", "号源容量", "slot_booked", "号源占用",
		"appointments_due", "应到预约数"),
		Detail: detail("appointment_id", Int, "预约编号", "patient_id", Int, "患者编号", "booked_at", Time, "预约时间",
			"planned_at", Time, "计划治疗时间", "channel", Text, "预约渠道", "status", Text, "状态")},
	{Name: "satisfaction", Title: "满意度与随访", Keys: []Column{day, dept, project}, Measures: measures(
		"followups_due", "应随访数", "followups_done", "已随访数", "followups_on_time", "按时随访数",
		"surveys_sent", "发放问卷数", "surveys_answered", "回收问卷数",
		"score_environment", "环境得分合计", "score_attitude", "态度得分合计", "score_skill", "技术得分合计",
		"score_waiting", "等候得分合计", "score_explanation", "解释得分合计", "score_overall", "总体得分合计",
		"complaints", "投诉数", "complaints_replied", "已回复投诉数", "complaint_reply_seconds", "投诉响应时长(秒)",
		"adverse_reactions", "不良反应数", "followups_past_due", "已到期应随访数", "followups_due_done", "应随访中已随访数",
		"surveys_sent_answered", "发放问卷中已回收数"),
		Detail: detail("survey_id", Int, "问卷编号", "patient_id", Int, "患者编号", "sent_at", Time, "发放时间",
			"channel", Text, "调查方式", "status", Text, "状态", "score_overall", Int, "总体评分")},
	{Name: "data_quality", Title: "数据质量与评级", Keys: []Column{day, dept, {Name: "item", Type: Text, Title: "评价项目"}, {Name: "dimension", Type: Text, Title: "评价特性"}},
		Measures: measures("numerator", "分子", "denominator", "分母", "failed", "不达标数"),
		Detail:   detail("entity", Text, "对象代码", "entity_id", Int, "编号", "patient_id", Int, "患者编号", "passed", Int, "达标（1/0）")},
	PatientsMart,
}

// PatientsMart holds who was treated: one row per day, department, project,
// staff member, visit type and patient, with the sessions. Queries count
// 治疗人数 distinct over it for any period and slice.
var PatientsMart = &Mart{Name: "patients", Title: "治疗患者", Keys: []Column{day, dept, project, staff, visitType,
	{Name: "patient_id", Type: Int, Title: "患者编号"}}, Measures: measures("sessions", "治疗人次")}

// MartByName finds a mart.
func MartByName(name string) *Mart {
	for _, m := range Marts {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Key finds a key column of the mart by name.
func (m *Mart) Key(name string) (Column, bool) {
	for _, c := range m.Keys {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// Measure finds a measure of the mart by name.
func (m *Mart) Measure(name string) (Column, bool) {
	for _, c := range m.Measures {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// periodTitle is the header of a query's period column by grain.
var periodTitle = map[string]string{"day": "日期", "week": "周(起始日)", "month": "月份"}

// ColumnTitle is the Chinese header of a column of a query or detail result
// over m: the period, a key, the name beside an id key, a measure or a
// detail column.
func (m *Mart) ColumnTitle(grain, name string) string {
	if name == "period" {
		return periodTitle[grain]
	}
	switch name {
	case "patient_name":
		return "患者姓名"
	case unitLabelCol:
		return "对象"
	case passedLabelCol:
		return "是否达标"
	case reasonCol:
		return "不达标原因"
	case mrnCol:
		return "病案号"
	}
	for _, cols := range [][]Column{m.Keys, m.Measures, m.Detail} {
		for _, c := range cols {
			if c.Name == name {
				return c.Title
			}
		}
	}
	for id, label := range labelOf {
		if label == name {
			c, _ := m.Key(id)
			return c.Title + "名称"
		}
	}
	return name
}
