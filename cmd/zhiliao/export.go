package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/exports"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
)

func reportNames() string {
	var names []string
	for _, r := range reports.Reports {
		names = append(names, r.ID)
	}
	return strings.Join(names, ", ")
}

// runExport is `zhiliao export REPORT --from --to [--dept CODE] --out FILE.xlsx or FILE.pdf`:
// one report written now, hospital-wide or for departments, audited as an
// export by the command line.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "usage: zhiliao export REPORT --from YYYY-MM-DD --to YYYY-MM-DD [--dept CODE,…] [--deidentify] --out FILE.xlsx|FILE.pdf\n       zhiliao export evidence-pack --from YYYY-MM-DD --to YYYY-MM-DD [--dept CODE,…] [--as USER] --out PACK.zip\nreports: %s\n", reportNames())
		return errUsage
	}
	rep := reports.ReportByID(args[0])
	pack := args[0] == "evidence-pack"
	if rep == nil && !pack {
		return fmt.Errorf("%w: unknown report %q: want one of %s, or evidence-pack", errUsage, args[0], reportNames())
	}
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	var c common
	var w whFlags
	c.register(fs)
	w.register(fs)
	from := fs.String("from", "", "开始日期 first day, YYYY-MM-DD")
	to := fs.String("to", "", "结束日期 last day, YYYY-MM-DD")
	dept := fs.String("dept", "", "科室代码 department codes, comma separated (default: every department)")
	out := fs.String("out", "", "输出文件 the .xlsx workbook, or .pdf (A4 landscape, printed by headless Chromium), to write")
	deid := fs.Bool("deidentify", false, "患者姓名脱敏 mask patient names")
	rules := fs.String("rating-rules", "", "评级规则文件 a rating rules file replacing the embedded version")
	sampleSeed := fs.Uint("sample-seed", 0, "抽查记录抽样种子 seed of the evidence sample (0: derived from the period)")
	sampleRows := fs.Int("sample-rows", 0, "抽查记录每层抽样数 units per stratum of the evidence sample (0: 20)")
	as := fs.String("as", "", "证据包截图账号 evidence-pack: the account whose view the dashboard screenshots show (default: the first quality-office account)")
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	if err := w.validate(); err != nil {
		return err
	}
	if ext := filepath.Ext(*out); pack && ext != ".zip" {
		return fmt.Errorf("%w: evidence-pack --out must name a .zip file", errUsage)
	} else if !pack && (*out == "" || (ext != ".xlsx" && ext != ".pdf")) {
		return fmt.Errorf("%w: --out must name a .xlsx or .pdf file", errUsage)
	}
	if err := (&etl.Query{From: *from, To: *to}).Validate(etl.MartByName("workload")); err != nil {
		return fmt.Errorf("%w: --%s: %s", errUsage, model.ErrorField(err), model.ErrorMessage(err))
	}
	rr, err := reports.LoadRules(*rules)
	if err != nil {
		return err
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	db, err := openCore(ctx, &c, stderr, mustExist)
	if err != nil {
		return err
	}
	defer db.Close()
	wh, err := w.open(ctx, &c)
	if err != nil {
		return err
	}
	defer wh.Close()
	runner := &etl.Runner{Warehouse: wh, Logger: log, Placeholders: rr.Placeholders}
	dims, err := runner.Dimensions(ctx)
	if err != nil {
		return err
	}
	if *sampleSeed > math.MaxUint32 || *sampleRows < 0 || *sampleRows > 1000 {
		return fmt.Errorf("%w: --sample-seed must fit 32 bits and --sample-rows be 0–1000", errUsage)
	}
	p := reports.Params{From: *from, To: *to, Deidentify: *deid, By: "命令行 command line", SampleSeed: uint32(*sampleSeed), SampleRows: *sampleRows,
		WarehouseNames: db.WarehouseNames()}
	codes := strings.Split(*dept, ",")
	for _, d := range dims.Departments {
		if *dept == "" || slices.Contains(codes, d.Code) || slices.Contains(codes, strconv.FormatInt(d.ID, 10)) {
			p.Depts, p.DeptNames = append(p.Depts, d.ID), append(p.DeptNames, d.Name)
		}
	}
	if len(p.Depts) == 0 {
		return fmt.Errorf("%w: --dept %q matches no department", errUsage, *dept)
	}
	if pack {
		return writeEvidencePack(ctx, db, runner, rr, *rules, p, *as, *out, log, stdout, stderr)
	}
	m := &exports.Manager{Source: runner, Rules: rr, Dir: filepath.Join(c.data, "reports"), Logger: log}
	began := time.Now()
	last := time.Time{}
	res, err := m.WriteFile(ctx, rep, p, *out, func(rows int64, pct float64) {
		if time.Since(last) > time.Second {
			fmt.Fprintf(stderr, "导出 exporting %s: %d rows, %.0f%%\n", rep.ID, rows, pct)
			last = time.Now()
		}
	})
	detail := fmt.Sprintf("from=%s to=%s depts=%v deidentified=%v rows=%d out=%s", p.From, p.To, p.Depts, p.Deidentify, res.Rows, *out)
	status := 200
	if err != nil {
		status = 422
		detail += " error=" + err.Error()
	}
	if aerr := db.Audit(ctx, model.AuditEntry{Action: "export", Route: "zhiliao export", Entity: "report", EntityID: rep.ID,
		Status: status, Detail: detail}); aerr != nil && err == nil {
		err = aerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "已导出 wrote %s: %s, %d sheets, %d rows in %.1fs\n", *out, rep.Title, res.Sheets, res.Rows, time.Since(began).Seconds())
	return nil
}
