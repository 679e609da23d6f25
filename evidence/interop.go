package evidence

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/encode"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
)

// InteropSource gives the 互联互通 figures of a period, from the core (the
// documents, the registry's and FHIR's audited calls, the HL7 messages out).
type InteropSource interface {
	InteropStats(ctx context.Context, from, to time.Time) (*model.InteropStats, error)
}

// InteropWorkbook writes the 互联互通 evidence (医院信息互联互通标准化成熟度测评:
// shared documents and interaction services) for p's period: 共享文档, 交互服务
// and 说明, which says what each figure counts.
func InteropWorkbook(ctx context.Context, src InteropSource, p reports.Params, w io.Writer) error {
	from, err := model.ParseDay("from", p.From)
	if err != nil {
		return err
	}
	to, err := model.ParseDay("to", p.To)
	if err != nil {
		return err
	}
	// Days are China days: [from 00:00, to+1 00:00) in China time.
	lo := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, model.Local)
	hi := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, model.Local).AddDate(0, 0, 1)
	st, err := src.InteropStats(ctx, lo, hi)
	if err != nil {
		return err
	}
	x := excelize.NewFile()
	defer x.Close()
	median := func(s float64) any {
		if s < 0 {
			return "未记录"
		}
		return s
	}
	sheet := func(name string, header []string, rows [][]any) error {
		if _, err := x.NewSheet(name); err != nil {
			return err
		}
		for c, h := range header {
			cell, _ := excelize.CoordinatesToCellName(c+1, 1)
			x.SetCellValue(name, cell, h)
		}
		for r, row := range rows {
			for c, v := range row {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+2)
				if s, ok := v.(string); ok {
					v = encode.SafeText(s)
				}
				x.SetCellValue(name, cell, v)
			}
		}
		x.SetColWidth(name, "A", "A", 10)
		x.SetColWidth(name, "B", "B", 30)
		x.SetColWidth(name, "C", "E", 16)
		return x.SetPanes(name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
	}
	var docs, svcs [][]any
	for _, d := range st.Documents {
		docs = append(docs, []any{d.Month, d.Name, d.Count, d.Failed, median(d.MedianSeconds)})
	}
	for _, s := range st.Services {
		svcs = append(svcs, []any{s.Month, s.Name, s.Count, s.Failed, median(s.MedianSeconds)})
	}
	if err := sheet("共享文档", []string{"月份", "文档类型", "生成并登记（份）", "未能生成（份）", "签名至登记中位时长（秒）"}, docs); err != nil {
		return err
	}
	if err := sheet("交互服务", []string{"月份", "服务", "调用（次）", "失败（次）", "中位时延（秒）"}, svcs); err != nil {
		return err
	}
	notes := [][]any{
		{"期间", fmt.Sprintf("%s 至 %s（北京时间，含首尾两日）", p.From, p.To)},
		{"生成并登记（份）", "期间内登记入文档注册库的 WS/T 500 共享文档版本数（治疗记录 C0008、特殊检查及特殊治疗同意书 C0029）；同一记录修改后重新签名生成的新版本另计一份。按来源签名时间归月（在线运行时签名后数秒内登记）。"},
		{"未能生成（份）", "期间内因来源缺少必需字段而未生成文档的来源版本数（字段见“共享文档”页面 /dash/documents）；补全后重新签名生成的新版本计入“生成并登记”。"},
		{"签名至登记中位时长", "来源（记录或知情同意书）签名时刻到文档登记时刻的中位数（秒）。注册库启用前已签名的来源在启用时补生成，其时长含补生成前的等待。"},
		{"调用（次）", "期间内该服务被调用的次数，取自审计日志（每次调用，包括被拒绝的调用，均有审计记录）。FHIR 读取与检索不含批量导出；批量导出计发起次数。"},
		{"失败（次）", "服务调用中应答状态 ≥ 400 的次数（参数错误、无权限、不存在等）；HL7 消息为对方拒收或放弃发送（死信）的条数，重发的消息另计。"},
		{"中位时延", "HL7 消息为进入发送队列到收到对方确认（AA）的中位时长（秒）；API 与 FHIR 服务的单次处理时长未写入审计日志，记为“未记录”（性能见 docs/BENCHMARKS.md）。"},
		{"数据来源", "核心业务库（文档注册库、审计日志、HL7 发送队列），不经分析库。"},
	}
	if err := sheet("说明", []string{"项目", "说明"}, notes); err != nil {
		return err
	}
	x.SetColWidth("说明", "B", "B", 100)
	x.DeleteSheet("Sheet1")
	return x.Write(w)
}
