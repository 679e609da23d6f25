package reports

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/warehouse"
)

// monthsBefore is the first day of the n-month window that ends on day, as
// the rating's "last 3 months" reads (RATING.md): when day is the last day of
// its month, the n whole calendar months ending with that month; otherwise
// the day after the same day n months earlier, clamped to that month's length
// (to 05-30 → from 03-01; to 07-15 → from 04-16). Go's AddDate normalises
// 02-31 into March, which is why this is computed by hand.
func monthsBefore(day string, n int) string {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return day
	}
	y, m, d := t.Date()
	if t.AddDate(0, 0, 1).Day() == 1 { // the last day of its month
		return time.Date(y, m-time.Month(n-1), 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	}
	first := time.Date(y, m-time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	if last := first.AddDate(0, 1, -1).Day(); d > last {
		d = last
	}
	return time.Date(first.Year(), first.Month(), d+1, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
}

// figure is a rule's numerator and denominator over a period.
type figure struct{ num, den int64 }

// coefficient is num ÷ den rounded to two decimals, as the rating platform
// rounds before it compares with a threshold (RATING.md: "two decimals").
func (f figure) coefficient() (float64, bool) {
	if f.den == 0 {
		return 0, false
	}
	return float64((200*f.num+f.den)/(2*f.den)) / 100, true // exact half-up in integers
}

// Round2 rounds a coefficient to two decimals, half away from zero: 0.795
// becomes 0.80 and passes a threshold of 80 %.
func Round2(c float64) float64 { return math.Round(c*100+1e-9) / 100 }

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

// judge is 符合 when c reaches threshold, 部分符合 when it reaches the
// rules' band of the threshold, else 不符合. c is already rounded to two
// decimals. The comparison is in whole hundredths and ten-thousandths, never
// in binary floating point: 0.8 × 0.8 is 0.6400000000000001 there, and a
// coefficient of exactly 0.64 would miss the band it sits on.
func judge(rules *Rules, c, threshold float64) string {
	switch {
	case Reaches(c, threshold):
		return "符合"
	case hundredths(c)*100 >= hundredths(threshold)*hundredths(rules.SelfAssessment.PartialBand):
		return "部分符合"
	}
	return "不符合"
}

// hundredths is x in whole hundredths (0.64 → 64).
func hundredths(x float64) int64 { return int64(math.Round(x * 100)) }

// Reaches reports whether coefficient c, rounded to two decimals, reaches
// threshold (itself whole hundredths, as LoadRules checks), compared as
// integers.
func Reaches(c, threshold float64) bool { return hundredths(Round2(c)) >= hundredths(threshold) }

// verdictRank orders the verdicts from best to worst.
var verdictRank = map[string]int{"符合": 0, "部分符合": 1, "待确认": 2, "不符合": 3}

// worse is the worse of two verdicts.
func worse(a, b string) string {
	if verdictRank[b] > verdictRank[a] {
		return b
	}
	return a
}

// itemScore is one rating item of the self-assessment form.
type itemScore struct {
	rating, item, name string
	level              int
	rules              []Rule
	coverage           *float64 // the item's coverage (EMR: 06.01 有效应用 over the last months)
	dqIndex            *float64 // EMR only: min (or mean) of the item's dimension coefficients
	status             string
	score              *float64
	evidence, gap      []string
}

// scoreItems applies RATING.md's formula per item: an EMR 06.01.N item
// scores N × coverage of the last months × data-quality index; a
// smart-service item scores level × coverage. Thresholds, the partial band
// and how an item's dimensions make one index come from rules.json.
func scoreItems(rules *Rules, period, window map[[2]string]figure, windowText string) []*itemScore {
	sa := rules.SelfAssessment
	var items []*itemScore
	byItem := map[string]*itemScore{}
	for _, r := range rules.Rules {
		if r.Item == rules.EMRItem.Code && r.Rating == "emr" { // coverage, not an item of its own
			continue
		}
		it := byItem[r.Item]
		if it == nil {
			it = &itemScore{rating: r.Rating, item: r.Item, name: r.Name, level: r.Level}
			byItem[r.Item] = it
			items = append(items, it)
		}
		it.rules = append(it.rules, r)
	}
	cov := func(f figure) *float64 {
		if c, ok := f.coefficient(); ok {
			return &c
		}
		return nil
	}
	emrCov := figure{}
	if r, ok := rules.Find(rules.EMRItem.Code, "有效应用"); ok {
		emrCov = window[[2]string{r.Item, r.Dimension}]
	}
	for _, it := range items {
		it.status = "符合"
		var covThreshold float64
		if it.rating == "emr" {
			it.coverage = cov(emrCov)
			covThreshold = rules.EMRCoverage[map[bool]string{true: "basic", false: "selective"}[rules.EMRItem.Basic]]
			it.evidence = append(it.evidence, fmt.Sprintf("有效应用（%s）分子 %d / 分母 %d", windowText, emrCov.num, emrCov.den))
			var cs []float64
			for _, r := range it.rules {
				f := period[[2]string{r.Item, r.Dimension}]
				it.evidence = append(it.evidence, fmt.Sprintf("%s 分子 %d / 分母 %d", r.Dimension, f.num, f.den))
				c, ok := f.coefficient()
				if !ok {
					it.status = worse(it.status, "待确认")
					it.gap = append(it.gap, r.Dimension+"期间内无数据")
					continue
				}
				cs = append(cs, c)
				if c < sa.DQMin {
					it.gap = append(it.gap, fmt.Sprintf("%s 系数 %.2f 低于 %.2f", r.Dimension, c, sa.DQMin))
				}
				it.status = worse(it.status, judge(rules, c, sa.DQMin))
			}
			if len(cs) > 0 {
				idx := cs[0]
				sum := 0.0
				for _, c := range cs {
					idx = min(idx, c)
					sum += c
				}
				if sa.DQIndex == "mean" {
					idx = Round2(sum / float64(len(cs)))
				}
				it.dqIndex = &idx
			}
		} else {
			r := it.rules[0]
			f := period[[2]string{r.Item, r.Dimension}]
			it.coverage = cov(f)
			covThreshold = r.Threshold
			it.evidence = append(it.evidence, fmt.Sprintf("%s 分子 %d / 分母 %d", r.Dimension, f.num, f.den))
		}
		switch {
		case it.coverage == nil:
			it.status = worse(it.status, "待确认")
			it.gap = append(it.gap, "覆盖率期间内无数据")
		default:
			if !Reaches(*it.coverage, covThreshold) {
				it.gap = append(it.gap, fmt.Sprintf("覆盖率 %.0f%% 低于阈值 %.0f%%", *it.coverage*100, covThreshold*100))
			}
			it.status = worse(it.status, judge(rules, *it.coverage, covThreshold))
		}
		if it.coverage != nil && (it.rating != "emr" || it.dqIndex != nil) {
			v := float64(it.level) * *it.coverage
			if it.dqIndex != nil {
				v *= *it.dqIndex
			}
			v = Round2(v)
			it.score = &v
		}
	}
	return items
}

// writeRated fills a sheet from the rules and their figures: the
// smart-service functions with their evidence, or the self-assessment form
// of RATING.md §C prefilled (现场状态 and 自评得分 by the standard's formula;
// 待确认 where the period has no data). Both are filled for people to
// finish: the status a metric cannot see stays for them.
func writeRated(ctx context.Context, w sheetSink, src Source, rules *Rules, sh Sheet, p Params) (int64, error) {
	figs, err := figures(ctx, src, p)
	if err != nil {
		return 0, err
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
				f := figs[[2]string{r.Item, r.Dimension}]
				var c any
				st := "待确认"
				if v, ok := f.coefficient(); ok {
					c, st = v, judge(rules, v, r.Threshold)
				}
				if !yield([]any{r.Name, r.Item, r.Functions, r.Evidence, c, r.Threshold, st, f.num, f.den}) {
					break
				}
			}
			return nil
		})
	case "self-assessment":
		wp := p
		wp.From = monthsBefore(p.To, rules.SelfAssessment.CoverageMonths)
		window, err := figures(ctx, src, wp)
		if err != nil {
			return 0, err
		}
		items := scoreItems(rules, figs, window, wp.From+" 至 "+wp.To)
		cols := []SheetColumn{{"序号", Integer, 6}, {"评估类别", Text, 14}, {"业务项目", Text, 14}, {"条款编号", Text, 18},
			{"条款内容", Text, 48}, {"功能级别", Integer, 8}, {"覆盖率", Percent, 9}, {"数据质量指数", Decimal, 10},
			{"现场状态", Text, 10}, {"自评得分", Decimal, 10}, {"证据材料", Text, 60},
			{"问题与差距", Text, 36}, {"整改计划", Text, 24}, {"责任部门", Text, 12}, {"责任人", Text, 10}, {"完成期限", Text, 12}}
		category := map[string]string{"emr": "电子病历应用水平", "smart": "智慧服务"}
		evidence := map[string]string{"emr": "emr-0601 证据工作簿", "smart": "smart-service 证据工作簿"}
		return w.AddSheet(sh.Name, cols, func(yield func([]any) bool) error {
			total := map[string]float64{}
			for i, it := range items {
				var titles []string
				for _, r := range it.rules {
					titles = append(titles, r.Dimension+"："+r.Title)
				}
				var c, dq, score any
				if it.coverage != nil {
					c = *it.coverage
				}
				if it.dqIndex != nil {
					dq = *it.dqIndex
				}
				if it.score != nil {
					score = *it.score
					total[it.rating] += *it.score
				}
				ev := evidence[it.rating] + "；" + strings.Join(it.evidence, "；") + "（" + period + "）"
				if !yield([]any{int64(i + 1), category[it.rating], it.name, it.item, strings.Join(titles, "\n"), int64(it.level), c, dq,
					it.status, score, ev, strings.Join(it.gap, "；"), "", "", "", ""}) {
					return nil
				}
			}
			for _, rating := range []string{"emr", "smart"} {
				if !yield([]any{nil, category[rating], "合计", nil, "各项目自评得分之和", nil, nil, nil, nil, Round2(total[rating]), nil, nil, nil, nil, nil, nil}) {
					return nil
				}
			}
			return nil
		})
	}
	return 0, fmt.Errorf("reports: sheet %s: unknown rated kind %q", sh.Name, sh.Rated)
}
