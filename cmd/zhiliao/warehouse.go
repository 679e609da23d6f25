package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
)

// whFlags are the warehouse and relay settings of serve, relay and
// warehouse subcommands.
type whFlags struct {
	dsn       string
	batch     int
	flush     time.Duration
	retention time.Duration
}

func (w *whFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&w.dsn, "warehouse", "", "分析库 warehouse: empty for DATA/warehouse.duckdb (embedded), or clickhouse://HOST:PORT/DB (env ZHILIAO_WAREHOUSE)")
	fs.IntVar(&w.batch, "relay-batch", cdc.DefaultBatchSize, "每批事件数 events per relay batch (env ZHILIAO_RELAY_BATCH)")
	fs.DurationVar(&w.flush, "relay-flush", cdc.DefaultFlushInterval, "空闲轮询间隔 how long the relay waits after catching up (env ZHILIAO_RELAY_FLUSH)")
	fs.DurationVar(&w.retention, "outbox-retention", cdc.DefaultRetention, "已同步事件在 outbox 中保留时长 keep shipped outbox events this long; 0 keeps them forever (env ZHILIAO_OUTBOX_RETENTION)")
}

func (w *whFlags) validate() error {
	if w.batch < 1 || w.batch > 1_000_000 {
		return fmt.Errorf("%w: --relay-batch %d: want 1 to 1000000", errUsage, w.batch)
	}
	if w.flush <= 0 {
		return fmt.Errorf("%w: --relay-flush %s: want a positive duration", errUsage, w.flush)
	}
	if w.retention < 0 {
		return fmt.Errorf("%w: --outbox-retention %s: want 0 or more", errUsage, w.retention)
	}
	if w.dsn != "" && !strings.HasPrefix(w.dsn, "clickhouse://") {
		return fmt.Errorf("%w: --warehouse %q: want clickhouse://HOST:PORT/DB, or nothing for the embedded DuckDB", errUsage, w.dsn)
	}
	return nil
}

// open opens the warehouse the flags name.
func (w *whFlags) open(ctx context.Context, c *common) (warehouse.Warehouse, error) {
	// A warehouse is filled from a core: without one, the folder is a typo
	// and nothing (not even an empty warehouse file) is created.
	if err := requireCore(c); err != nil {
		return nil, err
	}
	if w.dsn != "" {
		wh, err := clickhouse.OpenAny(ctx, w.dsn)
		if err != nil {
			return nil, fmt.Errorf("warehouse %s: %w", w.dsn, err)
		}
		return wh, nil
	}
	return duckdb.Open(ctx, filepath.Join(c.data, "warehouse.duckdb"))
}

func (w *whFlags) relay(c *common, stderr io.Writer) (*cdc.Relay, error) {
	log, err := c.logger(stderr)
	if err != nil {
		return nil, err
	}
	return &cdc.Relay{BatchSize: w.batch, FlushInterval: w.flush, Retention: w.retention, Logger: log}, nil
}

// runRelay is `zhiliao relay [--once]`: the relay alone, for a core whose
// server runs without one, or to catch up once.
func runRelay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	var c common
	var w whFlags
	c.register(fs)
	w.register(fs)
	once := fs.Bool("once", false, "同步到当前最新后退出 ship everything committed so far, then exit")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := w.validate(); err != nil {
		return err
	}
	core, err := openCore(ctx, &c, stderr, mustExist)
	if err != nil {
		return err
	}
	defer core.Close()
	wh, err := w.open(ctx, &c)
	if err != nil {
		return err
	}
	defer wh.Close()
	r, err := w.relay(&c, stderr)
	if err != nil {
		return err
	}
	r.Core, r.Warehouse = core, wh
	began := time.Now()
	if !*once {
		return r.Run(ctx)
	}
	// Counted from the start of the core's namespace, not from seq 0.
	from, _ := warehouse.HighWater(ctx, wh, core.Namespace())
	from = max(from, model.NamespaceBase(core.Namespace()))
	if err := r.Drain(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "已同步 shipped seq %d → %d (%d events) to %s %s in %.1fs\n",
		from, r.Shipped(), r.Shipped()-from, wh.Engine(), wh.ID(), time.Since(began).Seconds())
	return nil
}

// runWarehouse is `zhiliao warehouse rebuild|dead-letters`.
func runWarehouse(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const usage = "usage: zhiliao warehouse rebuild [--warehouse DSN] [--data DIR]\n       zhiliao warehouse dead-letters [--replay] [--warehouse DSN] [--data DIR]"
	if len(args) == 0 || (args[0] != "rebuild" && args[0] != "dead-letters") {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	verb := args[0]
	fs := flag.NewFlagSet("warehouse "+verb, flag.ContinueOnError)
	var c common
	var w whFlags
	c.register(fs)
	w.register(fs)
	replay := fs.Bool("replay", false, "重放死信 replay the dead letters against the current schema")
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	if err := w.validate(); err != nil {
		return err
	}
	if verb == "rebuild" {
		return rebuildWarehouse(ctx, &c, &w, false, stdout, stderr)
	}
	wh, err := w.open(ctx, &c)
	if err != nil {
		return err
	}
	defer wh.Close()
	if *replay {
		res, err := cdc.ReplayDeadLetters(ctx, wh)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "重放成功 replayed %d dead letters; %d still refused\n", len(res.Replayed), len(res.Failed))
	}
	dls, err := wh.DeadLetters(ctx, 1000)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "待处理死信 %d pending dead letters\n", len(dls))
	for _, d := range dls {
		fmt.Fprintf(stdout, "  seq %d  %s #%d v%d  %s\n", d.Seq, d.Entity, d.EntityID, d.Version, d.Reason)
	}
	if len(dls) > 0 && !*replay {
		return errors.New("dead letters are pending: fix the cause, then run with --replay")
	}
	return nil
}

// rebuildWarehouse recreates the warehouse from the core (warehouse
// rebuild, restore) and, with marts, builds every mart from it at once. A
// regional warehouse keeps the other cores' rows and its marts, which hold
// this core's old rows until rebuilt: its marts are always rebuilt.
func rebuildWarehouse(ctx context.Context, c *common, w *whFlags, marts bool, stdout, stderr io.Writer) error {
	core, err := openCore(ctx, c, stderr, mustExist)
	if err != nil {
		return err
	}
	defer core.Close()
	wh, err := w.open(ctx, c)
	if err != nil {
		return err
	}
	defer wh.Close()
	r, err := w.relay(c, stderr)
	if err != nil {
		return err
	}
	if err := cdc.Rebuild(ctx, core, wh, r, stdout); err != nil {
		return fmt.Errorf("rebuild the warehouse: %w", err)
	}
	hws, err := wh.HighWaters(ctx)
	if err != nil {
		return err
	}
	if !marts && len(hws) <= 1 {
		return nil
	}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	runner := &etl.Runner{Warehouse: wh, Logger: log, Placeholders: reports.DefaultRules().Placeholders}
	if _, err := runner.Run(ctx, etl.Options{Full: true, Job: "restore"}); err != nil {
		return fmt.Errorf("build the marts: %w", err)
	}
	return nil
}
