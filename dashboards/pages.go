package dashboards

import "github.com/zhiliao/zhiliao/policy"

// Series is one line or bar set of a chart: the sum of Num over the sum of
// Den (a rate or an average; Den "" is the plain sum) times Scale.
type Series struct {
	Name   string  `json:"name"`
	Num    string  `json:"num"`
	Den    string  `json:"den,omitempty"`
	Scale  float64 `json:"scale,omitempty"`
	Format string  `json:"format"` // int, yuan, percent, decimal (as reports.Format)
	Type   string  `json:"type,omitempty"`
}

// Chart is one ECharts chart over a mart query. X is the period (By "")
// or a key of the mart; clicking a point opens the detail rows behind it.
type Chart struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Mart   string   `json:"mart"`
	Type   string   `json:"type"` // line or bar
	By     string   `json:"by,omitempty"`
	Grain  string   `json:"grain,omitempty"` // for period charts: day, week, month ("" follows the range)
	Series []Series `json:"series"`
	// Threshold draws each row's rating threshold (data quality).
	Threshold bool `json:"threshold,omitempty"`
}

// KPI is one figure of the overview, for the anchor day and its month.
type KPI struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Mart   string `json:"mart"`
	Series Series `json:"series"`
}

// Page is one dashboard page.
type Page struct {
	Slug   string        `json:"slug"`
	Title  string        `json:"title"`
	Action policy.Action `json:"-"` // who may open it (policy's table)
	KPIs   []KPI         `json:"kpis,omitempty"`
	Charts []Chart       `json:"charts"`
	Tables []string      `json:"tables"` // report table ids
	ETL    bool          `json:"etl,omitempty"`
	// Tool names a working page that is not a dashboard (tools.js draws
	// it): "reports" (报表中心) or "consents" (知情同意书模板).
	Tool string `json:"tool,omitempty"`
	// Report is the workbook of what the page shows (its 导出 Excel / PDF
	// buttons, for the page's period and department).
	Report string `json:"report,omitempty"`
}

func sum(name, num, format string) Series { return Series{Name: name, Num: num, Format: format} }
func ratio(name, num, den, format string, scale float64) Series {
	return Series{Name: name, Num: num, Den: den, Format: format, Scale: scale}
}

// Pages are the dashboards, in the order of the navigation.
var Pages = []Page{
	{Slug: "overview", Title: "总览", Action: policy.ReadMarts, Report: "dept-monthly",
		KPIs: []KPI{
			{ID: "sessions", Title: "治疗人次", Mart: "workload", Series: sum("治疗人次", "sessions", "int")},
			{ID: "revenue", Title: "净收入", Mart: "revenue", Series: sum("净收入", "net_fen", "yuan")},
			{ID: "utilisation", Title: "号源利用率", Mart: "project", Series: ratio("号源利用率", "slot_booked", "slot_capacity", "percent", 1)},
			{ID: "satisfaction", Title: "满意度(均分/5)", Mart: "satisfaction", Series: ratio("满意度", "score_overall", "surveys_answered", "decimal", 1)},
			{ID: "no_shows", Title: "爽约", Mart: "project", Series: sum("爽约", "no_shows", "int")},
		},
		Charts: []Chart{
			{ID: "trend", Title: "治疗人次趋势", Mart: "workload", Type: "line", Series: []Series{sum("治疗人次", "sessions", "int")}},
			{ID: "revenue-trend", Title: "净收入趋势", Mart: "revenue", Type: "bar", Series: []Series{sum("净收入", "net_fen", "yuan")}},
		},
		Tables: []string{"institution-overview", "dept-overview"}},
	{Slug: "workload", Title: "工作量", Action: policy.ReadMarts, Report: "workload",
		Charts: []Chart{
			{ID: "by-staff", Title: "人员治疗人次", Mart: "workload", Type: "bar", By: "staff_id", Series: []Series{sum("治疗人次", "sessions", "int"), sum("评估数", "assessments", "int")}},
			{ID: "by-day", Title: "每日治疗人次", Mart: "workload", Type: "line", Series: []Series{sum("治疗人次", "sessions", "int"), sum("治疗人数", "patients", "int")}},
			{ID: "by-project", Title: "项目治疗人次与时长", Mart: "workload", Type: "bar", By: "project_id", Series: []Series{
				sum("治疗人次", "sessions", "int"), ratio("治疗时长(小时)", "treatment_minutes", "", "decimal", 1.0/60)}},
		},
		Tables: []string{"workload-by-staff", "workload-by-project"}},
	{Slug: "revenue", Title: "收入", Action: policy.ReadMarts, Report: "revenue",
		Charts: []Chart{
			{ID: "by-day", Title: "收入趋势", Mart: "revenue", Type: "line", Series: []Series{sum("治疗收入", "charges_fen", "yuan"), sum("冲减", "reversals_fen", "yuan"), sum("预交款退费", "prepaid_refunds_fen", "yuan")}},
			{ID: "by-project", Title: "项目净收入", Mart: "revenue", Type: "bar", By: "project_id", Series: []Series{sum("净收入", "net_fen", "yuan")}},
		},
		Tables: []string{"revenue-by-project", "daily-trend"}},
	{Slug: "projects", Title: "项目", Action: policy.ReadMarts, Report: "project",
		Charts: []Chart{
			{ID: "by-project", Title: "项目量", Mart: "project", Type: "bar", By: "project_id", Series: []Series{
				sum("预约数", "appointments_booked", "int"), sum("治疗人次", "sessions", "int"), sum("爽约数", "no_shows", "int")}},
			{ID: "utilisation", Title: "号源利用率", Mart: "project", Type: "line", Grain: "week", Series: []Series{
				ratio("号源利用率", "slot_booked", "slot_capacity", "percent", 1)}},
		},
		Tables: []string{"project-summary"}},
	{Slug: "satisfaction", Title: "满意度", Action: policy.ReadMarts, Report: "satisfaction",
		Charts: []Chart{
			{ID: "score", Title: "满意度均分(周)", Mart: "satisfaction", Type: "line", Grain: "week", Series: []Series{
				ratio("总体", "score_overall", "surveys_answered", "decimal", 1), ratio("态度", "score_attitude", "surveys_answered", "decimal", 1)}},
			{ID: "followup", Title: "随访与问卷", Mart: "satisfaction", Type: "bar", By: "project_id", Series: []Series{
				ratio("随访按时率", "followups_on_time", "followups_past_due", "percent", 1), ratio("问卷回收率", "surveys_sent_answered", "surveys_sent", "percent", 1)}},
		},
		Tables: []string{"satisfaction-by-project"}},
	{Slug: "quality", Title: "数据质量与评级", Action: policy.ReadMarts, Report: "data-quality",
		Charts: []Chart{
			{ID: "coefficients", Title: "评级指标系数与阈值", Mart: "data_quality", Type: "bar", By: "item,dimension", Threshold: true, Series: []Series{
				ratio("系数", "numerator", "denominator", "percent", 1)}},
		},
		Tables: []string{"data-quality-items", "data-quality-by-month"}},
	{Slug: "etl", Title: "ETL 运行状态", Action: policy.ReadMarts, ETL: true},
	{Slug: "reports", Title: "报表中心", Action: policy.ReadMarts, Tool: "reports"},
	{Slug: "consents", Title: "知情同意书", Action: policy.KeepConsentTexts, Tool: "consents"},
	{Slug: "documents", Title: "共享文档", Action: policy.ReadDocumentFailures, Tool: "documents"},
	{Slug: "interfaces", Title: "接口消息", Action: policy.Integration, Tool: "interfaces"},
}

// pageBySlug finds a page.
func pageBySlug(slug string) *Page {
	for i := range Pages {
		if Pages[i].Slug == slug {
			return &Pages[i]
		}
	}
	return nil
}
