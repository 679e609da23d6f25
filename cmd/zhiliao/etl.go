package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/reports"
)

// etlFlags are the ETL schedules of serve.
type etlFlags struct {
	incremental, full string
}

func (e *etlFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.incremental, "etl-incremental", etl.DefaultIncremental, "增量计算计划 cron schedule of incremental mart runs (env ZHILIAO_ETL_INCREMENTAL)")
	fs.StringVar(&e.full, "etl-full", etl.DefaultFull, "全量重建计划 cron schedule of the full rebuild, China time (env ZHILIAO_ETL_FULL)")
}

func (e *etlFlags) validate() error {
	if err := etl.ParseSpec(e.incremental); err != nil {
		return fmt.Errorf("%w: --etl-incremental %q: %v", errUsage, e.incremental, err)
	}
	if err := etl.ParseSpec(e.full); err != nil {
		return fmt.Errorf("%w: --etl-full %q: %v", errUsage, e.full, err)
	}
	return nil
}

// runETL is `zhiliao etl run [--full] [--mart NAME]`: one run, now.
func runETL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(stderr, "usage: zhiliao etl run [--full] [--mart NAME] [--warehouse DSN] [--data DIR]")
		return errUsage
	}
	fs := flag.NewFlagSet("etl run", flag.ContinueOnError)
	var c common
	var w whFlags
	c.register(fs)
	w.register(fs)
	full := fs.Bool("full", false, "全量重建 rebuild every day, not only the days touched since the last run")
	mart := fs.String("mart", "", "只算一个集市 only this mart: "+martNames())
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	if err := w.validate(); err != nil {
		return err
	}
	opt := etl.Options{Full: *full, Job: "manual"}
	if *mart != "" {
		if etl.MartByName(*mart) == nil {
			return fmt.Errorf("%w: --mart %q: want one of %s", errUsage, *mart, martNames())
		}
		opt.Marts = []string{*mart}
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	wh, err := w.open(ctx, &c)
	if err != nil {
		return err
	}
	defer wh.Close()
	// The embedded rules' placeholders (a --rating-rules file of serve
	// applies to the marts serve builds).
	r := &etl.Runner{Warehouse: wh, Logger: log, Placeholders: reports.DefaultRules().Placeholders}
	began := time.Now()
	results, runErr := r.Run(ctx, opt)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "集市 mart\t状态 status\t全量 full\t天数 days\t行数 rows\t水位 watermark\t秒 seconds\t错误 error")
	for _, res := range results {
		days := fmt.Sprint(res.Days)
		if res.Days < 0 {
			days = "all"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%d\t%d\t%.2f\t%s\n", res.Mart, res.Status, res.Full, days, res.Rows, res.Watermark,
			res.Finished.Sub(res.StartedAt).Seconds(), res.Error)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "完成 done in %.1fs\n", time.Since(began).Seconds())
	if errors.Is(runErr, etl.ErrBusy) {
		return errors.New("another ETL run is in progress")
	}
	return runErr
}

func martNames() string {
	names := make([]string, len(etl.Marts))
	for i, m := range etl.Marts {
		names[i] = m.Name
	}
	return strings.Join(names, "|")
}
