// Command zhiliao is the one binary of the treatment management system. It is
// the only place that knows every concrete type: it reads configuration
// (flags, then ZHILIAO_* environment variables), opens the stores and wires
// the services into the HTTP server and the background jobs.
//
//	zhiliao serve   [--demo] [--addr ADDR] [--data DIR] [--migrate]
//	zhiliao gen     --preset pilot|hospital|region [--seed N] [--data DIR]
//	zhiliao migrate [--to VERSION] [--data DIR]
//	zhiliao user add --username U --password P --role ROLE [--dept CODE] [--data DIR]
//	zhiliao his replay [--data DIR]
//	zhiliao relay   [--once] [--warehouse DSN] [--data DIR]
//	zhiliao warehouse rebuild|dead-letters [--replay] [--warehouse DSN] [--data DIR]
//	zhiliao etl run [--full] [--mart NAME] [--warehouse DSN] [--data DIR]
//	zhiliao export REPORT --from DAY --to DAY [--dept CODE] --out FILE.xlsx [--data DIR]
//	zhiliao keys init|rotate|reencrypt [--key-file F] [--new-key-file F2]
//	zhiliao records verify [--from DAY --to DAY]
//	zhiliao audit seal|verify|export [--from DAY --to DAY --out FILE.csv]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/peterbourgon/ff/v3"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `zhiliao 综合治疗管理系统 (comprehensive treatment management)

用法 usage:
  zhiliao serve    运行服务 run the service (--demo for demo data)
  zhiliao gen      生成模拟医院数据 generate a synthetic hospital
  zhiliao migrate  升级数据库结构 migrate the core schema
  zhiliao user add 创建登录用户 create a login
  zhiliao his replay 重放 HL7 死信 replay HL7 dead letters
  zhiliao relay    同步 outbox 到分析库 ship the outbox to the warehouse (--once to catch up and exit)
  zhiliao warehouse rebuild       从核心库重建分析库 rebuild the warehouse from the core
  zhiliao warehouse dead-letters  查看/重放死信 list (--replay) warehouse dead letters
  zhiliao backup   在线备份核心库 online backup of the SQLite core (--out FILE)
  zhiliao restore  从备份恢复并重建分析库 restore a backup and rebuild the warehouse (--from FILE)
  zhiliao etl run  计算数据集市 build the marts once (--full, --mart NAME)
  zhiliao export   导出报表 write a report workbook or PDF (REPORT --from --to [--dept] --out FILE.xlsx|FILE.pdf)
  zhiliao keys init       创建主密钥文件 create a master key file
  zhiliao keys rotate     更换主密钥（不改写数据行）re-wrap the core's keys under a new master key
  zhiliao keys reencrypt  启用新数据密钥并重新加密（可续做）seal every row under a new data key, resumable
  zhiliao records verify  离线核验治疗记录的 SM2 签名 verify every record's SM2 signature
  zhiliao audit verify    核验审计日志哈希链 verify the audit log's SM3 hash chain and its signed anchors
  zhiliao audit export    导出审计日志与链证明 export audit lines (CSV) with the chain proof
  zhiliao version  版本、提交与数据库结构版本 version, commit and schema version

Every subcommand takes --data DIR (default ./data, env ZHILIAO_DATA) and --core
postgres://… (env ZHILIAO_CORE) to use a PostgreSQL core instead of DATA/core.db.
Run "zhiliao CMD -h" for its flags.
`

// Run executes one subcommand and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "gen":
		err = runGen(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], stdout, stderr)
	case "user":
		err = runUser(ctx, args[1:], stdout, stderr)
	case "his":
		err = runHIS(ctx, args[1:], stdout, stderr)
	case "relay":
		err = runRelay(ctx, args[1:], stdout, stderr)
	case "warehouse":
		err = runWarehouse(ctx, args[1:], stdout, stderr)
	case "backup":
		err = runBackup(ctx, args[1:], stdout, stderr)
	case "restore":
		err = runRestore(ctx, args[1:], stdout, stderr)
	case "etl":
		err = runETL(ctx, args[1:], stdout, stderr)
	case "export":
		err = runExport(ctx, args[1:], stdout, stderr)
	case "keys":
		err = runKeys(ctx, args[1:], stdout, stderr)
	case "records":
		err = runRecords(ctx, args[1:], stdout, stderr)
	case "audit":
		err = runAudit(ctx, args[1:], stdout, stderr)
	case "version":
		err = runVersion(stdout)
	default:
		fmt.Fprintf(stderr, "未知命令 unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		if err != errUsage {
			fmt.Fprintf(stderr, "zhiliao %s: %v\n", args[0], err)
		}
		return 2
	}
	fmt.Fprintf(stderr, "zhiliao %s: %v\n", args[0], err)
	return 1
}

var errUsage = errors.New("usage")

// common holds the flags every subcommand takes.
type common struct {
	data     string
	core     string // "" is DATA/core.db; a postgres:// DSN puts the core on PostgreSQL
	logLevel string
	migrate  bool
	// waitForCore: serve retries an unreachable core database with backoff
	// instead of failing (a database server may start after the service).
	waitForCore bool
	// keyFile is the master key (vault); "" is DATA/master.key.
	keyFile string
	// warehouseNames: masked or clear; "" keeps what the core recorded.
	warehouseNames string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.data, "data", "./data", "数据目录 folder holding core.db, the warehouse and files (env ZHILIAO_DATA)")
	fs.StringVar(&c.core, "core", "", "核心库 the core database: DATA/core.db (SQLite) unless a postgres://USER@HOST:PORT/DB DSN is given (env ZHILIAO_CORE)")
	fs.StringVar(&c.logLevel, "log-level", "info", "日志级别 debug|info|warn|error (env ZHILIAO_LOG_LEVEL)")
	fs.BoolVar(&c.migrate, "migrate", false, "升级过期的数据库结构 apply pending migrations to an existing database (env ZHILIAO_MIGRATE)")
	fs.StringVar(&c.keyFile, "key-file", "", "主密钥文件 the master key that opens the core's SM4-sealed fields; default DATA/master.key, made by `zhiliao keys init` (env ZHILIAO_KEY_FILE)")
	fs.StringVar(&c.warehouseNames, "warehouse-names", "", "分析库中的患者姓名 masked (default, 张*三) or clear; recorded in the core (env ZHILIAO_WAREHOUSE_NAMES)")
}

// keyPath is where the master key file is.
func (c *common) keyPath() string {
	if c.keyFile != "" {
		return c.keyFile
	}
	return filepath.Join(c.data, "master.key")
}

// parse reads flags, then ZHILIAO_* environment variables for flags not set,
// and validates the common ones.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("ZHILIAO")); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		return errUsage
	}
	return nil
}

func (c *common) logger(stderr io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, c.logLevel)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})), nil
}
