package reports

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/pdfprint"
)

// sheetSink is where a report's sheets go: a workbook, or the print-styled
// page a PDF is printed from. Both take the same sheets from the same
// tables, so Excel and PDF never disagree.
type sheetSink interface {
	AddSheet(name string, cols []SheetColumn, rows Rows, opts ...SheetOptions) (int64, error)
	AddNotes(title string, notes [][2]string) error
	setProgress(func(rows int64))
	setPrint(*Print)
}

func (w *Workbook) setProgress(f func(rows int64)) { w.Progress = f }
func (w *Workbook) setPrint(p *Print)              { w.Print = p }

// MaxPDFRows bounds a PDF: past it the report is refused with a message
// pointing to the workbook, which has no such limit (a PDF of a hundred
// thousand rows helps no reader and takes Chromium minutes).
const MaxPDFRows = 20_000

// page is a report as one print-styled HTML page: each sheet a section
// starting on a new page with its title block, its table with the header
// repeated on every page and the 合计 row; then 说明.
type page struct {
	buf      bytes.Buffer
	print    *Print
	rows     int64
	progress func(int64)
	sections int
}

func (p *page) setProgress(f func(rows int64)) { p.progress = f }
func (p *page) setPrint(pr *Print)             { p.print = pr }

func (p *page) AddSheet(name string, cols []SheetColumn, rows Rows, opts ...SheetOptions) (int64, error) {
	var opt SheetOptions
	if len(opts) > 0 {
		opt = opts[0]
	}
	p.section()
	if pr := p.print; pr != nil {
		fmt.Fprintf(&p.buf, `<div class="title"><h1>%s · %s</h1><p>单位：%s　　统计期间：%s　　报表日期：%s</p><p>制表：______________　　审核：______________</p></div>`,
			esc(pr.Report), esc(name), esc(pr.Unit), esc(pr.Period), pr.Made.In(model.Local).Format("2006-01-02"))
	}
	p.buf.WriteString(`<table><thead><tr>`)
	for _, c := range cols {
		class := ""
		if numeric(c.Format) {
			class = ` class="n"`
		}
		fmt.Fprintf(&p.buf, `<th%s>%s</th>`, class, esc(c.Header))
	}
	p.buf.WriteString(`</tr></thead><tbody>`)
	var n int64
	var err error
	ferr := rows(func(row []any) bool {
		if p.rows+n >= MaxPDFRows {
			err = model.Invalid("format", "PDF 至多 %d 行，此报表更大：请缩小范围或导出 Excel (a PDF holds at most %d rows)", MaxPDFRows, MaxPDFRows)
			return false
		}
		p.row(cols, row, "")
		n++
		return true
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return n, err
	}
	if opt.Total != nil && n > 0 {
		p.row(cols, opt.Total, "total")
	}
	p.buf.WriteString(`</tbody></table>`)
	if opt.Chart != nil && n > 0 {
		fmt.Fprintf(&p.buf, `<p class="aside">图表“%s”见 Excel 版本同名工作表。</p>`, esc(opt.Chart.Title))
	}
	p.buf.WriteString(`</section>`)
	p.rows += n
	if p.progress != nil {
		p.progress(p.rows)
	}
	return n, nil
}

func (p *page) row(cols []SheetColumn, row []any, class string) {
	if class != "" {
		fmt.Fprintf(&p.buf, `<tr class="%s">`, class)
	} else {
		p.buf.WriteString(`<tr>`)
	}
	for j, v := range row {
		f := cols[j].Format
		text := ""
		switch x := v.(type) {
		case nil:
		case time.Time:
			if f == Time {
				text = x.In(model.Local).Format("2006-01-02 15:04:05")
			} else {
				text = x.Format("2006-01-02")
			}
		default:
			text = format(f, v)
		}
		align := ""
		if numeric(f) {
			align = ` class="n"`
		}
		fmt.Fprintf(&p.buf, `<td%s>%s</td>`, align, esc(text))
	}
	p.buf.WriteString(`</tr>`)
}

func (p *page) AddNotes(title string, notes [][2]string) error {
	p.section()
	fmt.Fprintf(&p.buf, `<div class="title"><h1>%s</h1></div><table class="notes"><tbody>`, esc(title))
	for _, n := range notes {
		fmt.Fprintf(&p.buf, `<tr><th>%s</th><td>%s</td></tr>`, esc(n[0]), esc(n[1]))
	}
	p.buf.WriteString(`</tbody></table></section>`)
	return nil
}

func (p *page) section() {
	if p.sections == 0 {
		p.buf.WriteString(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>` + esc(p.print.Report) + `</title><style>` + printCSS + `</style></head><body>`)
	}
	p.sections++
	p.buf.WriteString(`<section>`)
}

func (p *page) html() []byte { return append(p.buf.Bytes(), "</body></html>"...) }

func numeric(f Format) bool { return f == Integer || f == Yuan || f == Percent || f == Decimal }

func esc(s string) string { return template.HTMLEscapeString(s) }

// printCSS lays the page out for A4 landscape: each sheet on a new page,
// the table header repeated on every page, no row split across pages.
const printCSS = `
@page { size: A4 landscape; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", sans-serif; font-size: 8.5pt; color: #111; margin: 0; }
section { break-before: page; }
section:first-of-type { break-before: auto; }
.title h1 { font-size: 14pt; margin: 0 0 4px; }
.title p { margin: 0 0 3px; color: #333; font-size: 9pt; }
table { border-collapse: collapse; width: 100%; margin-top: 6px; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th { background: #e8f1fa; border-bottom: 1px solid #9db3c8; text-align: left; font-weight: bold; padding: 3px 4px; }
td { border-bottom: 1px solid #e3e3e3; padding: 2px 4px; }
th.n { text-align: right; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: bold; border-top: 1.5px solid #333; border-bottom: none; }
table.notes th { width: 22%; vertical-align: top; }
.aside { color: #555; font-size: 8pt; }
`

// ExportPDF writes report rep for p to out as a PDF, A4 landscape, from the
// same sheets as the workbook, printed by headless Chromium. Without
// Chromium it answers pdfprint.ErrNoChromium and writes nothing.
func ExportPDF(ctx context.Context, src Source, rules *Rules, rep *Report, p Params, out io.Writer, progress Progress) (Result, error) {
	if _, err := pdfprint.Browser(); err != nil {
		return Result{}, model.Errorf(model.EUNAVAILABLE, "%v", err)
	}
	pg := &page{}
	res, err := exportTo(ctx, pg, src, rules, rep, p, progress)
	if err != nil {
		return res, err
	}
	pr := pg.print
	header := fmt.Sprintf(`<div style="font-size:8px;width:100%%;margin:0 10mm;display:flex;justify-content:space-between;font-family:'Noto Sans CJK SC',sans-serif"><span>%s</span><span>%s</span></div>`,
		esc(pr.Unit), esc(pr.Report))
	footer := fmt.Sprintf(`<div style="font-size:8px;width:100%%;margin:0 10mm;display:flex;justify-content:space-between;font-family:'Noto Sans CJK SC',sans-serif"><span>制表时间：%s</span><span>第 <span class="pageNumber"></span> 页 / 共 <span class="totalPages"></span> 页</span><span>统计期间：%s</span></div>`,
		pr.Made.In(model.Local).Format("2006-01-02 15:04"), esc(pr.Period))
	pdf, err := pdfprint.Print(ctx, pg.html(), pdfprint.Options{Header: header, Footer: footer})
	if err != nil {
		return res, err
	}
	_, err = out.Write(pdf)
	return res, err
}
