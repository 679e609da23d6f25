package reports

import (
	"context"
	"fmt"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/warehouse"
)

// monthsBefore is the day after the same date n months before day: the
// first day of an n-month period ending on day.
func monthsBefore(day string, n int) string {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return day
	}
	return t.AddDate(0, -n, 1).Format("2006-01-02")
}

// figure is a rule's numerator and denominator over a period.
type figure struct{ num, den int64 }

func (f figure) coefficient() (float64, bool) {
	if f.den == 0 {
		return 0, false
	}
	return float64(f.num) / float64(f.den), true
}

// figures sums every rule's numerator and denominator over p.
func figures(ctx context.Context, src Source, p Params) (map[[2]string]figure, error) {
	rr, err := src.Query(ctx, etl.MartByName("data_quality"), etl.Query{From: p.From, To: p.To, Grain: "all",
		GroupBy: []string{"item", "dimension"}, Measures: []string{"numerator", "denominator"}, Ints: map[string][]int64{"dept_id": p.Depts}})
	if err != nil {
		return nil, err
	}
	rows, err := warehouse.ReadAll(rr)
	if err != nil {
		return nil, err
	}
	out := map[[2]string]figure{}
	for _, r := range rows {
		num, _ := r[2].(int64)
		den, _ := r[3].(int64)
		out[[2]string{r[0].(string), r[1].(string)}] = figure{num, den}
	}
	return out, nil
}

// writeRated fills a sheet from the rules and their figures: the
// smart-service functions with their evidence, or the self-assessment form
// of RATING.md §C prefilled (现场状态 from the coefficient against the
// threshold; 待确认 where the period has no data). Both are filled for
// people to finish: the status a metric cannot see stays for them.
func writeRated(ctx context.Context, w *Workbook, src Source, rules *Rules, sh Sheet, p Params) (int64, error) {
	figs, err := figures(ctx, src, p)
	if err != nil {
		return 0, err
	}
	status := func(r Rule) (string, any, any) {
		f := figs[[2]string{r.Item, r.Dimension}]
		c, ok := f.coefficient()
		switch {
		case !ok:
			return "待确认", nil, nil
		case c >= r.Threshold:
			return "符合", c, float64(r.Level) * c
		case c >= r.Threshold*0.8:
			return "部分符合", c, float64(r.Level) * c
		}
		return "不符合", c, float64(r.Level) * c
	}
	period := p.From + " 至 " + p.To
	switch sh.Rated {
	case "functions":
		cols := []SheetColumn{{"评估项目", Text, 12}, {"项目代码", Text, 18}, {"功能（3–4级，涉及治疗）", Text, 60},
			{"系统数据证据", Text, 60}, {"覆盖率", Percent, 10}, {"阈值", Percent, 8}, {"现场状态", Text, 10}, {"分子", Integer, 10}, {"分母", Integer, 10}}
		return w.AddSheet(sh.Name, cols, func(yield func([]any) bool) error {
			for _, r := range rules.Rules {
				if r.Rating != "smart" {
					continue
				}
				st, c, _ := status(r)
				f := figs[[2]string{r.Item, r.Dimension}]
				if !yield([]any{r.Name, r.Item, r.Functions, r.Evidence, c, r.Threshold, st, f.num, f.den}) {
					break
				}
			}
			return nil
		})
	case "self-assessment":
		cols := []SheetColumn{{"序号", Integer, 6}, {"评估类别", Text, 14}, {"业务项目", Text, 14}, {"条款编号", Text, 18},
			{"条款内容", Text, 48}, {"现场状态", Text, 10}, {"自评得分", Decimal, 10}, {"证据材料", Text, 60},
			{"问题与差距", Text, 36}, {"整改计划", Text, 24}, {"责任部门", Text, 12}, {"责任人", Text, 10}, {"完成期限", Text, 12}}
		category := map[string]string{"emr": "电子病历应用水平", "smart": "智慧服务"}
		evidence := map[string]string{"emr": "emr-0601 证据工作簿", "smart": "smart-service 证据工作簿"}
		n := int64(0)
		return w.AddSheet(sh.Name, cols, func(yield func([]any) bool) error {
			for _, r := range rules.Rules {
				st, c, score := status(r)
				f := figs[[2]string{r.Item, r.Dimension}]
				ev := fmt.Sprintf("%s；%s 分子 %d / 分母 %d（%s）", evidence[r.Rating], r.Dimension, f.num, f.den, period)
				gap := ""
				if cv, ok := c.(float64); ok && cv < r.Threshold {
					gap = fmt.Sprintf("系数 %.1f%% 低于阈值 %.0f%%", cv*100, r.Threshold*100)
				}
				if c == nil {
					gap = "期间内无数据"
				}
				n++
				if !yield([]any{n, category[r.Rating], r.Name, r.Item + " " + r.Dimension, r.Title, st, score, ev, gap, "", "", "", ""}) {
					break
				}
			}
			return nil
		})
	}
	return 0, fmt.Errorf("reports: sheet %s: unknown rated kind %q", sh.Name, sh.Rated)
}
