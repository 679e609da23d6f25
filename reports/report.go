package reports

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
)

// Sheet is one sheet of a report: a report table, or the detail rows of a
// mart (Detail), with an optional chart beside it.
type Sheet struct {
	Name   string
	Table  string // a report table id
	Detail string // a mart whose detail rows fill the sheet
	// Items keeps the rating items listed (data quality tables and detail).
	Items []string
	// Months, when set, ends the sheet's period at the report's end but
	// starts it that many months before (coverage over the last 3 months).
	Months int
	// Grain, when set, replaces the table's grain (a table with a period
	// column exported as the screen showed it).
	Grain string
	// Rated fills the sheet from the rating rules and their figures
	// instead of a table: "functions" or "self-assessment".
	Rated string
	Chart *SheetChart
}

// sampleStrata are the columns an evidence sample is stratified by, besides
// the month: every rule, failing units and passing ones apart.
var sampleStrata = []string{"item", "dimension", "passed"}

var (
	emrItems   = []string{"06.01", "06.01.3", "06.01.4", "06.01.5", "06.01.6"}
	smartItems = []string{"smart.appointment", "smart.feedback", "smart.followup"}
)

// SheetChart draws columns of the sheet's table.
type SheetChart struct {
	Title  string
	Kind   string   // line or col
	Values []string // column keys
}

// Report is one report of the catalogue.
type Report struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	About string `json:"about"`
	// Evidence reports print the rating rules' version and definitions.
	Evidence bool    `json:"evidence"`
	Sheets   []Sheet `json:"-"`
}

// Reports is the catalogue of reports.
var Reports = []*Report{
	{ID: "dept-monthly", Title: "科室月报", About: "科室运营概况、每日治疗与收入（含图表）、人员工作量、项目收入、项目运营、满意度与随访",
		Sheets: []Sheet{
			{Name: "汇总", Table: "dept-overview", Chart: &SheetChart{Title: "各科室治疗人次与预约", Kind: "col", Values: []string{"sessions", "appointments_booked"}}},
			{Name: "每日治疗与收入", Table: "daily-trend", Chart: &SheetChart{Title: "每日治疗人次与净收入", Kind: "col", Values: []string{"sessions", "net_fen"}}},
			{Name: "人员工作量", Table: "workload-by-staff"},
			{Name: "项目收入", Table: "revenue-by-project"},
			{Name: "项目运营", Table: "project-summary"},
			{Name: "满意度与随访", Table: "satisfaction-by-project"},
		}},
	{ID: "workload", Title: "工作量报表", About: "人员工作量与每日工作量",
		Sheets: []Sheet{{Name: "人员工作量", Table: "workload-by-staff"}, {Name: "项目工作量", Table: "workload-by-project"}, {Name: "每日工作量", Table: "workload-by-day",
			Chart: &SheetChart{Title: "每日治疗人次", Kind: "line", Values: []string{"sessions"}}}}},
	{ID: "revenue", Title: "收入报表", About: "项目收入与每日收入",
		Sheets: []Sheet{{Name: "项目收入", Table: "revenue-by-project"}, {Name: "每日治疗与收入", Table: "daily-trend",
			Chart: &SheetChart{Title: "每日净收入", Kind: "col", Values: []string{"net_fen"}}}}},
	{ID: "project", Title: "项目运营报表", About: "医嘱、预约、爽约、疗程、等待与号源利用率",
		Sheets: []Sheet{{Name: "项目运营", Table: "project-summary"}}},
	{ID: "satisfaction", Title: "满意度报表", About: "问卷回收、满意度均分、投诉与不良反应",
		Sheets: []Sheet{{Name: "满意度与随访", Table: "satisfaction-by-project"}}},
	{ID: "followup", Title: "随访报表", About: "应随访、已随访、按时随访，随访明细见问卷明细",
		Sheets: []Sheet{{Name: "随访", Table: "followup-by-project"}}},
	{ID: "region", Title: "区域机构对比报表", About: "区域内各医疗机构的医嘱、预约、爽约、治疗人次、完成疗程与号源利用率并列（区域卫生管理；医院账号只见本机构一行）",
		Sheets: []Sheet{{Name: "机构运营对比", Table: "institution-overview",
			Chart: &SheetChart{Title: "各机构治疗人次与预约", Kind: "col", Values: []string{"sessions", "appointments_booked"}}}}},
	{ID: "data-quality", Title: "数据质量报表", About: "评级规则的分子、分母、系数与阈值，按月",
		Sheets: []Sheet{{Name: "数据质量", Table: "data-quality-items"}, {Name: "按月", Table: "data-quality-by-month"}}},
	{ID: "emr-0601", Title: "电子病历评级 06.01 一般治疗记录 证据", Evidence: true,
		About: "06.01 各级项目代码与评价特性的分子、分母、系数、阈值与是否达标（期间合计、近3个月有效应用、按月），及可追溯的抽查记录",
		Sheets: []Sheet{
			{Name: "06.01 数据质量", Table: "data-quality-items", Items: emrItems},
			{Name: "有效应用（近3个月）", Table: "data-quality-items", Items: []string{"06.01"}, Months: 3},
			{Name: "06.01 按月", Table: "data-quality-by-month", Items: emrItems},
			{Name: "抽查记录", Detail: "data_quality", Items: emrItems}}},
	{ID: "smart-service", Title: "智慧服务分级评估 治疗相关项目 证据", Evidence: true,
		About: "诊疗预约、患者反馈、患者管理的覆盖率（分子、分母、阈值）、按月趋势、系统已实现的功能及其数据证据、抽查记录",
		Sheets: []Sheet{
			{Name: "覆盖率", Table: "data-quality-items", Items: smartItems},
			{Name: "按月", Table: "data-quality-by-month", Items: smartItems},
			{Name: "功能证据", Rated: "functions"},
			{Name: "抽查记录", Detail: "data_quality", Items: smartItems}}},
	{ID: "self-assessment", Title: "评级自评表（预填）", Evidence: true,
		About:  "按自评表格式（序号、评估类别、业务项目、条款编号、条款内容、现场状态、自评得分、证据材料……）由指标预填，现场状态与整改由评审前人工确认",
		Sheets: []Sheet{{Name: "自评表", Rated: "self-assessment"}}},
}

// TableReport is one table of the dashboards as a workbook: its sheet,
// by grain when it has a period column, and the 说明 sheet.
func TableReport(t *Table, grain string) *Report {
	return &Report{ID: t.ID, Title: t.Title, About: "分析看板表格导出（与屏幕所示列、顺序、表头、格式一致）",
		Sheets: []Sheet{{Name: t.Title, Table: t.ID, Grain: grain}}}
}

// ReportByID finds a report.
func ReportByID(id string) *Report {
	for _, r := range Reports {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Source is what an export reads: the marts (etl.Runner).
type Source interface {
	Query(ctx context.Context, m *etl.Mart, q etl.Query) (array.RecordReader, error)
	Detail(ctx context.Context, m *etl.Mart, q etl.DetailQuery) (array.RecordReader, int64, error)
	Freshness(ctx context.Context) ([]etl.Freshness, error)
}

// Params are the filters of one export.
type Params struct {
	From       string   `json:"from"`
	To         string   `json:"to"`
	Depts      []int64  `json:"depts"` // the departments in scope (never nil: the caller resolves scope)
	DeptNames  []string `json:"dept_names"`
	Deidentify bool     `json:"deidentify"`
	By         string   `json:"by"` // who asked, for the 说明 sheet
	// SampleRows is how many units an evidence sample draws per stratum
	// (month × item × dimension × passed; 0: DefaultSampleRows), and
	// SampleSeed its seed (0: the period's own, SampleSeedOf).
	SampleRows int    `json:"sample_rows,omitempty"`
	SampleSeed uint32 `json:"sample_seed,omitempty"`
	// Format is "xlsx" (the default) or "pdf".
	Format string `json:"format,omitempty"`
	// Hospital names the 单位 of the title block; empty: the institutions
	// of Depts as the warehouse knows them.
	Hospital string `json:"hospital,omitempty"`
	// Now is when the report is made (报表日期, 制表时间, 生成时间); zero:
	// the wall clock.
	Now time.Time `json:"-"`
	// As is the account that asked, whose view an evidence pack's
	// dashboard screenshots show.
	As string `json:"-"`
	// WarehouseNames is the core's policy for patients' names in the
	// warehouse (masked or clear: store.NamesMasked/NamesClear), for the 说明
	// sheet; empty: not stated.
	WarehouseNames string `json:"warehouse_names,omitempty"`
}

func (p Params) now() time.Time {
	if p.Now.IsZero() {
		return time.Now()
	}
	return p.Now
}

// DefaultSampleRows is the units drawn per stratum of an evidence sample.
const DefaultSampleRows = 20

// sample is the evidence sample p asks for: its seed (the given one, or
// one derived from the period so that the same period draws the same
// sample) and its size per stratum.
func (p Params) sample() (uint32, int) {
	n := p.SampleRows
	if n <= 0 {
		n = DefaultSampleRows
	}
	if p.SampleSeed != 0 {
		return p.SampleSeed, n
	}
	h := fnv.New32a()
	h.Write([]byte(p.From + "/" + p.To))
	return h.Sum32(), n
}

// Result is what an export wrote.
type Result struct {
	Rows   int64 // data rows over all sheets
	Sheets int
}

// Progress is told the rows written so far and how many of the sheets
// are done.
type Progress func(rows int64, sheetsDone, sheets int)

// Export writes report rep for p to out as an xlsx workbook. A report
// whose data sheets are all empty is an error: a blank report is never
// delivered.
func Export(ctx context.Context, src Source, rules *Rules, rep *Report, p Params, out io.Writer, progress Progress) (Result, error) {
	w, err := NewWorkbook()
	if err != nil {
		return Result{}, err
	}
	defer w.Close()
	res, err := exportTo(ctx, w, src, rules, rep, p, progress)
	if err != nil {
		return res, err
	}
	_, err = w.WriteTo(out)
	return res, err
}

// exportTo writes the report's sheets and its 说明 to a sink.
func exportTo(ctx context.Context, w sheetSink, src Source, rules *Rules, rep *Report, p Params, progress Progress) (Result, error) {
	w.setPrint(&Print{Report: rep.Title, Unit: unitOf(ctx, src, p), Period: p.From + " 至 " + p.To, Made: p.now()})
	var res Result
	for i, sh := range rep.Sheets {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if progress != nil {
			w.setProgress(func(rows int64) { progress(rows, i, len(rep.Sheets)) })
		}
		n, err := writeSheet(ctx, w, src, rules, sh, p)
		if err != nil {
			return res, fmt.Errorf("sheet %s: %w", sh.Name, err)
		}
		res.Rows += n
		res.Sheets++
		if progress != nil {
			progress(res.Rows, i+1, len(rep.Sheets))
		}
	}
	if res.Rows == 0 {
		return res, model.Errorf(model.ENOTFOUND, "所选范围内没有数据，报表未生成 (no rows in the range: the report is not produced)")
	}
	return res, w.AddNotes(rep.Title+" · 说明", notes(ctx, src, rules, rep, p))
}

func writeSheet(ctx context.Context, w sheetSink, src Source, rules *Rules, sh Sheet, p Params) (int64, error) {
	var texts map[string][]string
	if sh.Items != nil {
		texts = map[string][]string{"item": sh.Items}
	}
	if sh.Months > 0 {
		p.From = monthsBefore(p.To, sh.Months)
	}
	if sh.Rated != "" {
		return writeRated(ctx, w, src, rules, sh, p)
	}
	if sh.Detail != "" {
		m := etl.MartByName(sh.Detail)
		seed, n := p.sample()
		q := etl.DetailQuery{Query: etl.Query{From: p.From, To: p.To, Ints: map[string][]int64{"dept_id": p.Depts}, Texts: texts},
			Deidentify: p.Deidentify, Sample: &etl.Sample{Seed: seed, PerStratum: n, By: sampleStrata}}
		rr, _, err := src.Detail(ctx, m, q)
		if err != nil {
			return 0, err
		}
		cols := ArrowColumns(rr.Schema(), func(name string) string { return m.ColumnTitle("day", name) })
		// An evaluator reads the units in Chinese (治疗记录, 是/否, the
		// reason): the codes they stand for stay in the API and the CSV.
		fields := rr.Schema().Fields()
		at := map[string]int{}
		for i, f := range fields {
			at[f.Name] = i
		}
		keep := make([]int, 0, len(cols))
		moved := map[int]bool{}
		for i, f := range fields {
			switch label, ok := sheetHidden[f.Name]; {
			case ok && at[label] > 0: // the Chinese column takes the code's place
				keep, moved[at[label]] = append(keep, at[label]), true
			case !moved[i]:
				keep = append(keep, i)
			}
		}
		shown := make([]SheetColumn, len(keep))
		for i, k := range keep {
			shown[i] = cols[k]
		}
		rows := ArrowRows(rr)
		return w.AddSheet(sh.Name, shown, func(yield func([]any) bool) error {
			out := make([]any, len(keep))
			return rows(func(row []any) bool {
				for i, k := range keep {
					out[i] = row[k]
				}
				return yield(out)
			})
		})
	}
	t := TableByID(sh.Table)
	m := etl.MartByName(t.Mart)
	grain := t.Grain
	if sh.Grain != "" && t.HasPeriod() {
		grain = sh.Grain
	}
	q := etl.Query{From: p.From, To: p.To, Grain: grain, GroupBy: t.GroupBy, Measures: t.Measures(),
		Ints: map[string][]int64{"dept_id": p.Depts}, Texts: texts}
	rr, err := src.Query(ctx, m, q)
	if err != nil {
		return 0, err
	}
	cells, err := t.Build(rr, rules)
	if err != nil {
		return 0, err
	}
	cols := make([]SheetColumn, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = SheetColumn{Header: c.Header, Format: c.Format, Width: c.Width}
	}
	var opt SheetOptions
	if t.AddsUp() && len(cells) > 1 {
		// The 合计 row: the same measures over the whole period and scope,
		// so rates are sums over sums and 治疗人数 is distinct, as on screen.
		q.Grain, q.GroupBy = "all", nil
		rr, err := src.Query(ctx, m, q)
		if err != nil {
			return 0, err
		}
		if opt.Total, err = t.Totals(rr); err != nil {
			return 0, err
		}
	}
	if sh.Chart != nil {
		opt.Chart = &Chart{Title: sh.Chart.Title, Kind: sh.Chart.Kind}
		for _, key := range sh.Chart.Values {
			if i := indexOf(t.Columns, key); i >= 0 {
				opt.Chart.Cols = append(opt.Chart.Cols, i+1)
			}
		}
	}
	return w.AddSheet(sh.Name, cols, func(yield func([]any) bool) error {
		row := make([]any, len(cols))
		for _, r := range cells {
			for j, c := range r {
				row[j] = c.Value
			}
			if !yield(row) {
				break
			}
		}
		return nil
	}, opt)
}

// sheetHidden are detail columns a workbook leaves out because a column
// beside them says the same in Chinese (the rating units' codes).
var sheetHidden = map[string]string{"entity": "entity_label", "passed": "passed_label"}

// unitOf is the 单位 line of a report: the hospital and the departments in
// scope.
func unitOf(ctx context.Context, src Source, p Params) string {
	hospital := p.Hospital
	if d, ok := src.(interface {
		Dimensions(context.Context) (*etl.Dims, error)
	}); ok && hospital == "" {
		if dims, err := d.Dimensions(ctx); err == nil {
			insts := map[int64]bool{}
			for _, dp := range dims.Departments {
				if slices.Contains(p.Depts, dp.ID) {
					insts[dp.InstitutionID] = true
				}
			}
			var names []string
			for _, in := range dims.Institutions {
				if insts[in.ID] {
					names = append(names, in.Name)
				}
			}
			hospital = strings.Join(names, "、")
		}
	}
	depts := strings.Join(p.DeptNames, "、")
	switch {
	case hospital == "":
		return depts
	case depts == "":
		return hospital
	}
	return hospital + " · " + depts
}

// measureDefinitions say on 说明 what a measure counts where its header
// alone cannot (DESIGN §D).
var measureDefinitions = map[string]string{
	"charges_fen":           "执行时确认的收费（按治疗开始日）",
	"reversals_fen":         "已执行收费的退费（退费额超出医嘱未执行部分价值的部分，按退费日）",
	"net_fen":               "治疗收入 − 冲减",
	"prepaid_refunds_fen":   "预交款退费：医嘱未执行部分的退费（按退费日），单列，不冲减治疗收入",
	"appointments_due":      "计划治疗日在期间内、且未在该日之前取消的预约（按计划治疗日；爽约率的分母）",
	"no_shows":              "应到预约中患者未到的（按计划治疗日）",
	"followups_past_due":    "应随访日在期间内、已到期（已随访或已失访）的随访（按应随访日；随访率的分母）",
	"followups_on_time":     "已到期应随访中，在应随访日当天或之前完成的（按应随访日）",
	"followups_due_done":    "已到期应随访中已完成的（按应随访日）",
	"followups_done":        "期间内完成的随访（按完成日，工作量口径）",
	"complaints_replied":    "期间内收到的投诉中已回复的（按收到日；投诉回复率的分子）",
	"surveys_sent_answered": "期间内发放的问卷中已回收的（按发放日；问卷回收率的分子）",
	"surveys_answered":      "期间内回收的问卷（按回收日；满意度均分的分母）",
}

// notes are the lines of the 说明 sheet.
func notes(ctx context.Context, src Source, rules *Rules, rep *Report, p Params) [][2]string {
	scope := strings.Join(p.DeptNames, "、")
	if scope == "" {
		scope = fmt.Sprint(p.Depts)
	}
	out := [][2]string{
		{"报表", rep.Title + "（" + rep.ID + "）"},
		{"内容", rep.About},
		{"统计期间", p.From + " 至 " + p.To},
		{"科室范围", scope},
		{"生成时间", p.now().In(model.Local).Format("2006-01-02 15:04:05") + "（北京时间）"},
		{"生成人", p.By},
	}
	if p.Deidentify {
		out = append(out, [2]string{"脱敏", "患者姓名已脱敏（评审专家与无需身份的导出）"})
	}
	switch p.WarehouseNames {
	case "masked":
		out = append(out, [2]string{"患者身份", "分析库只收到手机号、身份证号的掩码形式与不可逆的假名（HMAC-SM3），患者姓名亦为掩码（张*三）：本表中的患者姓名均为掩码，身份核对请在核心系统的患者档案中进行"})
	case "clear":
		out = append(out, [2]string{"患者身份", "分析库只收到手机号、身份证号的掩码形式与不可逆的假名（HMAC-SM3）；本院选择在分析库保留患者姓名明文（--warehouse-names clear），评审专家与无需身份的导出仍为掩码"})
	}
	if fr, err := src.Freshness(ctx); err == nil {
		for _, f := range fr {
			asOf := "—"
			if !f.DataAsOf.IsZero() {
				asOf = f.DataAsOf.In(model.Local).Format("2006-01-02 15:04:05")
			}
			out = append(out, [2]string{"数据新鲜度 · " + f.Title, fmt.Sprintf("数据截至 %s，水位 %d，待处理事件 %d", asOf, f.Watermark, f.Behind)})
		}
	}
	out = append(out, [2]string{"合计行", "各表末行“合计”为所选期间与范围的整体数：计数与金额为期间合计；比率与均值为合计分子 ÷ 合计分母（不是各行比率的平均）；治疗人数为期间内去重的患者人数，因此可小于各行之和。评级项目表逐项判定，不设合计。"})
	out = append(out, [2]string{"评级规则版本", rules.Version + "（" + rules.Source + "）"})
	for _, sh := range rep.Sheets {
		if sh.Detail == "" {
			continue
		}
		seed, n := p.sample()
		out = append(out, [2]string{"抽查记录 · " + sh.Name, fmt.Sprintf("分层随机抽样：每个 月份 × 项目代码 × 评价特性 × 是否达标 中抽取至多 %d 条（不达标记录必然入样）。"+
			"抽样种子 %d（乘数 %d）：按 抽样键 = 编号 × %d mod %d 升序取前 %d 条，同一种子可重新抽得同一样本（导出时指定 sample_seed）。",
			n, seed, etl.SampleMultiplier(seed), etl.SampleMultiplier(seed), etl.SamplePrime, n)})
		out = append(out, [2]string{"抽查记录 · 对象与原因", "“对象”为规则考察的单元（治疗记录、治疗、预约、满意度问卷、随访），“编号”为其在本系统中的编号，“日期”为其计入的统计日；" +
			"“不达标原因”为本系统对该规则不通过的说明，标准未规定措辞，按规则逐条写明（同一规则的不达标单元原因相同）。"})
	}
	if rep.Evidence {
		out = append(out, [2]string{"规则说明", rules.Note},
			[2]string{"系数取舍", rules.Rounding},
			[2]string{"近3个月", rules.Window},
			[2]string{"未填写的判定", rules.PlaceholdersNote + "：" + strings.Join(rules.Placeholders, "、")},
			[2]string{"自评得分", rules.SelfAssessment.Formula + "。" + rules.SelfAssessment.DQIndexNote + "；" + rules.SelfAssessment.PartialNote +
				fmt.Sprintf("；每一级数据质量须 ≥ %.2f；EMR 覆盖率阈值 基本项 %.0f%%、选择项 %.0f%%", rules.SelfAssessment.DQMin,
					rules.EMRCoverage["basic"]*100, rules.EMRCoverage["selective"]*100)})
		for _, r := range rules.Rules {
			out = append(out, [2]string{r.Item + " " + r.Dimension, fmt.Sprintf("%s。分子：%s；分母：%s；阈值 %.0f%%。",
				r.Title, r.Numerator, r.Denominator, r.Threshold*100)})
		}
	}
	for _, sh := range rep.Sheets {
		if sh.Table == "" {
			continue
		}
		t := TableByID(sh.Table)
		var defs []string
		for _, c := range t.Columns {
			if mc, ok := etl.MartByName(t.Mart).Measure(c.Key); ok && mc.Distinct != "" {
				defs = append(defs, c.Header+" = 期间与所选范围内去重的患者人数（不是每日人数之和）")
			}
			if def, ok := measureDefinitions[c.Key]; ok {
				defs = append(defs, c.Header+" = "+def)
			}
			switch {
			case c.Den != "":
				defs = append(defs, c.Header+" = "+c.Num+" ÷ "+c.Den)
			case c.Rule != "":
				defs = append(defs, c.Header+"：按评级规则")
			}
		}
		if len(defs) > 0 {
			out = append(out, [2]string{"指标定义 · " + sh.Name, strings.Join(defs, "；") + "（均为期间合计之比）"})
		}
	}
	return out
}
