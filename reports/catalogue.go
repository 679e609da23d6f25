package reports

// Column constructors: a key shown as text, a measure as a count or money,
// and a rate or average as a sum over a sum.
func key(k, header string, width float64) Column {
	return Column{Key: k, Header: header, Format: Text, Width: width}
}
func day(header string) Column { return Column{Key: "period", Header: header, Format: Date, Width: 12} }
func count(m, header string) Column {
	return Column{Key: m, Header: header, Format: Integer, Width: 10, Num: m}
}
func money(m, header string) Column {
	return Column{Key: m, Header: header, Format: Yuan, Width: 14, Num: m}
}
func rate(k, header, num, den string) Column {
	return Column{Key: k, Header: header, Format: Percent, Width: 10, Num: num, Den: den}
}
func avg(k, header, num, den string, scale float64) Column {
	return Column{Key: k, Header: header, Format: Decimal, Width: 12, Num: num, Den: den, Scale: scale}
}

// Tables is the catalogue of report tables, in the order pages show them.
var Tables = []*Table{
	// A regional warehouse's hospitals side by side (dashboards show it when
	// the reader sees more than one institution).
	{ID: "institution-overview", Title: "机构运营对比", Mart: "project", Grain: "all", GroupBy: []string{"institution_id"}, Columns: []Column{
		key("institution_name", "医疗机构", 20), count("orders", "医嘱数"), count("appointments_booked", "预约数"),
		count("appointments_due", "应到预约数"), rate("no_show_rate", "爽约率", "no_shows", "appointments_due"),
		count("sessions", "治疗人次"), count("courses_completed", "完成疗程数"),
		rate("utilisation", "号源利用率", "slot_booked", "slot_capacity")}},
	{ID: "dept-overview", Title: "科室运营概况", Mart: "project", Grain: "all", GroupBy: []string{"dept_id"}, Columns: []Column{
		key("dept_name", "科室", 14), count("orders", "医嘱数"), count("appointments_booked", "预约数"),
		count("no_shows", "爽约数"), count("appointments_due", "应到预约数"), rate("no_show_rate", "爽约率", "no_shows", "appointments_due"),
		count("sessions", "治疗人次"), count("courses_completed", "完成疗程数"),
		rate("utilisation", "号源利用率", "slot_booked", "slot_capacity")}},
	{ID: "daily-trend", Title: "每日治疗与收入", Mart: "revenue", Grain: "day", Columns: []Column{
		day("日期"), count("sessions", "治疗人次"), money("charges_fen", "治疗收入"), money("reversals_fen", "冲减"),
		money("net_fen", "净收入")}},
	{ID: "workload-by-day", Title: "每日工作量", Mart: "workload", Grain: "day", Columns: []Column{
		day("日期"), count("sessions", "治疗人次"), count("patients", "治疗人数"),
		avg("treatment_hours", "治疗时长(小时)", "treatment_minutes", "", 1.0/60), count("units", "治疗单位"),
		count("assessments", "评估数"), count("records_filed", "记录签署数"), count("followups_done", "完成随访数")}},
	{ID: "workload-by-staff", Title: "人员工作量", Mart: "workload", Grain: "all", GroupBy: []string{"staff_id"}, Columns: []Column{
		key("staff_name", "人员", 12), count("sessions", "治疗人次"), count("patients", "治疗人数"),
		avg("treatment_hours", "治疗时长(小时)", "treatment_minutes", "", 1.0/60), count("units", "治疗单位"),
		count("assessments", "评估数"), count("records_filed", "记录签署数"),
		rate("records_on_time_rate", "记录按时签署率", "records_on_time", "records_filed"), count("followups_done", "完成随访数")}},
	{ID: "workload-by-project", Title: "项目工作量", Mart: "workload", Grain: "all", GroupBy: []string{"project_id"}, Columns: []Column{
		key("project_name", "项目", 16), count("sessions", "治疗人次"), count("patients", "治疗人数"),
		avg("treatment_hours", "治疗时长(小时)", "treatment_minutes", "", 1.0/60), count("units", "治疗单位"),
		count("assessments", "评估数"), count("records_filed", "记录签署数"),
		rate("records_on_time_rate", "记录按时签署率", "records_on_time", "records_filed")}},
	{ID: "revenue-by-project", Title: "项目收入", Mart: "revenue", Grain: "all", GroupBy: []string{"project_id"}, Columns: []Column{
		key("project_name", "项目", 16), count("sessions", "治疗人次"), money("charges_fen", "治疗收入"),
		money("reversals_fen", "冲减"), money("net_fen", "净收入"), money("prepaid_refunds_fen", "预交款退费"), count("paid_orders", "缴费医嘱数"), money("paid_fen", "缴费金额")}},
	{ID: "project-summary", Title: "项目运营", Mart: "project", Grain: "all", GroupBy: []string{"project_id"}, Columns: []Column{
		key("project_name", "项目", 16), count("orders", "医嘱数"), count("applications", "申请数"),
		count("appointments_booked", "预约数"), count("appointments_cancelled", "取消预约数"), count("no_shows", "爽约数"),
		count("appointments_due", "应到预约数"), rate("no_show_rate", "爽约率", "no_shows", "appointments_due"), count("walk_ins", "现场加号数"), count("sessions", "治疗人次"), count("courses_started", "开始疗程数"),
		count("courses_completed", "完成疗程数"),
		avg("order_wait_days", "医嘱至首次治疗(天)", "order_wait_seconds", "first_sessions", 1.0/86400),
		avg("queue_wait_minutes", "平均排队(分钟)", "queue_wait_seconds", "queue_waits", 1.0/60),
		rate("utilisation", "号源利用率", "slot_booked", "slot_capacity")}},
	{ID: "satisfaction-by-project", Title: "满意度与随访", Mart: "satisfaction", Grain: "all", GroupBy: []string{"project_id"}, Columns: []Column{
		key("project_name", "项目", 16), count("followups_due", "应随访数"), count("followups_past_due", "已到期应随访数"),
		count("followups_on_time", "按时随访数"), rate("followup_on_time_rate", "随访按时率", "followups_on_time", "followups_past_due"),
		count("surveys_sent", "发放问卷数"), count("surveys_answered", "回收问卷数"),
		count("surveys_sent_answered", "发放问卷中已回收数"), rate("response_rate", "问卷回收率", "surveys_sent_answered", "surveys_sent"),
		avg("score_overall_avg", "总体满意度(均分)", "score_overall", "surveys_answered", 1),
		avg("score_attitude_avg", "服务态度(均分)", "score_attitude", "surveys_answered", 1),
		avg("score_skill_avg", "技术水平(均分)", "score_skill", "surveys_answered", 1),
		count("complaints", "投诉数"), count("complaints_replied", "已回复投诉数"),
		rate("complaint_reply_rate", "投诉回复率", "complaints_replied", "complaints"),
		avg("complaint_reply_hours", "投诉平均响应(小时)", "complaint_reply_seconds", "complaints_replied", 1.0/3600),
		count("adverse_reactions", "不良反应数")}},
	{ID: "followup-by-project", Title: "随访", Mart: "satisfaction", Grain: "all", GroupBy: []string{"project_id"}, Columns: []Column{
		key("project_name", "项目", 16), count("followups_due", "应随访数"), count("followups_past_due", "已到期应随访数"),
		count("followups_due_done", "应随访中已随访数"), count("followups_on_time", "按时随访数"),
		rate("followup_done_rate", "随访完成率", "followups_due_done", "followups_past_due"),
		rate("followup_on_time_rate", "随访按时率", "followups_on_time", "followups_past_due"),
		count("followups_done", "期间完成随访数")}},
	{ID: "data-quality-by-month", Title: "数据质量（按月）", Mart: "data_quality", Grain: "month", GroupBy: []string{"item", "dimension"}, Columns: []Column{
		day("月份"), key("item", "项目代码", 18), {Key: "title", Header: "评价指标", Format: Text, Width: 36, Rule: "title"},
		key("dimension", "评价特性", 14), count("numerator", "分子"), count("denominator", "分母"), count("failed", "不达标数"),
		{Key: "coefficient", Header: "系数", Format: Percent, Width: 10, Num: "numerator", Den: "denominator"},
		{Key: "threshold", Header: "阈值", Format: Percent, Width: 10, Rule: "threshold"},
		{Key: "verdict", Header: "是否达标", Format: Text, Width: 10, Rule: "verdict", Num: "coefficient"}}},
	{ID: "data-quality-items", Title: "数据质量与评级指标", Mart: "data_quality", Grain: "all", GroupBy: []string{"item", "dimension"}, Columns: []Column{
		key("item", "项目代码", 18), {Key: "title", Header: "评价指标", Format: Text, Width: 36, Rule: "title"},
		key("dimension", "评价特性", 14), count("numerator", "分子"), count("denominator", "分母"), count("failed", "不达标数"),
		{Key: "coefficient", Header: "系数", Format: Percent, Width: 10, Num: "numerator", Den: "denominator"},
		{Key: "threshold", Header: "阈值", Format: Percent, Width: 10, Rule: "threshold"},
		{Key: "verdict", Header: "是否达标", Format: Text, Width: 10, Rule: "verdict", Num: "coefficient"}}},
}

// TableByID finds a table.
func TableByID(id string) *Table {
	for _, t := range Tables {
		if t.ID == id {
			return t
		}
	}
	return nil
}
