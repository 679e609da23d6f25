package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/documents"
	"github.com/zhiliao/zhiliao/gen"
	"github.com/zhiliao/zhiliao/gen/cashier"
	"github.com/zhiliao/zhiliao/ingest/his"
	"github.com/zhiliao/zhiliao/interop/cda"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// errNoCore is a data folder without a core database.
var errNoCore = errors.New("no core database")

// mustExist makes openCore refuse a data folder without core.db: a mistyped
// --data must not silently create an empty database that relay and etl then
// report as a success with 0 rows.
const (
	mustExist = false
	mayCreate = true
)

// requireCore is errNoCore, naming the commands that make a core, when the
// data folder has no core.db.
func requireCore(c *common) error {
	if store.IsPostgres(c.core) {
		return nil // a database server: Open finds out whether it answers
	}
	path := filepath.Join(c.data, "core.db")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w at %s: 数据目录中没有核心库。生成演示数据 `zhiliao gen --data %s` 或 `zhiliao serve --demo --data %s`；新建空库 `zhiliao migrate --init --data %s`",
			errNoCore, path, c.data, c.data, c.data)
	}
	return nil
}

// openCore opens DATA/core.db with the HIS simulator as payment checker.
// Unless create is set (gen, serve --demo, migrate --init) a missing core.db
// is an error that names the commands that make one; nothing is created.
func openCore(ctx context.Context, c *common, stderr io.Writer, create bool) (*store.DB, error) {
	log, err := c.logger(stderr)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.data, "core.db")
	if store.IsPostgres(c.core) {
		path = c.core
	}
	if !create {
		if err := requireCore(c); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(c.data, 0o750); err != nil {
		return nil, fmt.Errorf("data folder %s: %w", c.data, err)
	}
	master, err := loadMaster(c, stderr, create)
	if err != nil {
		return nil, err
	}
	opt := store.Options{Migrate: c.migrate, Logger: log, FilesDir: filepath.Join(c.data, "files"), Master: master, WarehouseNames: c.warehouseNames}
	db, err := store.Open(ctx, path, opt)
	for wait := time.Second; err != nil && c.waitForCore && errors.Is(err, store.ErrUnreachable); wait = min(2*wait, 30*time.Second) {
		log.Warn("核心库无法连接，稍后重试 core database unreachable, retrying", "core", store.RedactDSN(path), "in", wait, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		db, err = store.Open(ctx, path, opt)
	}
	if err != nil {
		return nil, err
	}
	db.HIS = &cashier.Simulator{Status: db.OrderPaymentStatus}
	return db, nil
}

func presetNames() string {
	var names []string
	for n := range gen.Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, "|")
}

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	var c common
	c.register(fs)
	preset := fs.String("preset", "pilot", "规模 "+presetNames()+" (env ZHILIAO_PRESET)")
	seed := fs.Uint64("seed", 1, "随机种子 seed: the same seed gives the same data (env ZHILIAO_SEED)")
	defectsFile := fs.String("defects", "", "数据缺陷率 JSON file overriding the default defect rates (README: 数据缺陷)")
	instCode := fs.String("institution", "", "机构代码 generate one hospital of a region under this code, in its own namespace (README: 区域数据仓库)")
	instName := fs.String("institution-name", "", "机构名称 the hospital's name (with --institution)")
	instNumber := fs.Int64("institution-number", 0, "机构编号 1–8191, the core's namespace (with --institution; default: the code's trailing digits)")
	parallel := fs.Bool("parallel", false, "科室并行 one worker per department at once, for a core on PostgreSQL; the same seed gives the same rows every time, not the serial run's (README: The core on PostgreSQL)")
	workers := fs.Int("workers", 8, "并行科室数 how many departments run at once (with --parallel)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	p, ok := gen.Presets[*preset]
	if !ok {
		return fmt.Errorf("%w: --preset %q: want %s", errUsage, *preset, presetNames())
	}
	var inst *gen.Institution
	if *instCode != "" {
		n := *instNumber
		if n == 0 {
			n = trailingNumber(*instCode)
		}
		if n < 1 || n > model.MaxNamespace {
			return fmt.Errorf("%w: --institution %q: give --institution-number 1–%d (the code ends in no such number)", errUsage, *instCode, model.MaxNamespace)
		}
		inst = &gen.Institution{Code: *instCode, Name: *instName, Number: n}
		// Hospitals of one region generated with one --seed would
		// otherwise be the same hospital under different ids.
		*seed ^= uint64(n) * 0x9e3779b97f4a7c15
	} else if *instName != "" || *instNumber != 0 {
		return fmt.Errorf("%w: --institution-name and --institution-number go with --institution", errUsage)
	}
	var defects *gen.Defects
	if *defectsFile != "" {
		d, err := gen.LoadDefects(*defectsFile)
		if err != nil {
			return fmt.Errorf("%w: --defects: %v", errUsage, err)
		}
		defects = &d
	}
	db, err := openCore(ctx, &c, stderr, mayCreate)
	if err != nil {
		return err
	}
	defer db.Close()
	if n, err := db.Institutions(ctx); err != nil {
		return err
	} else if len(n) > 0 {
		return fmt.Errorf("%s already holds data (%d hospitals): generate into an empty --data folder", c.data, len(n))
	}
	if *workers < 1 {
		return fmt.Errorf("%w: --workers %d: want 1 or more", errUsage, *workers)
	}
	st, err := gen.Run(ctx, db, gen.Config{Preset: p, Seed: *seed, Progress: stderr, Defects: defects, Institution: inst, Parallel: *parallel, Workers: *workers})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "生成完成 generated %s seed %d: %d orders, %d courses, %d appointments, %d sessions, %d no-shows, %d follow-ups, %d CDC events in %.1fs\n",
		p.Name, *seed, st.Orders, st.Courses, st.Appointments, st.Sessions, st.NoShows, st.Followups, st.Events, st.Elapsed.Seconds())
	// The documents of the signed records and consents, as the service's
	// leader would make them, so the generated hospital has its registry.
	res, err := (&documents.Generator{Core: db, OIDRoot: cda.ExampleOIDRoot, Now: db.Now}).RunOnce(ctx)
	if err != nil {
		return fmt.Errorf("documents: %w", err)
	}
	fmt.Fprintf(stdout, "共享文档 shared documents: %d registered, %d sources lacking a field\n", res.Registered, res.Failed)
	return nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var c common
	c.register(fs)
	to := fs.Int64("to", 0, "只升级到该版本 migrate up to this version (0: latest)")
	initCore := fs.Bool("init", false, "新建空核心库 create an empty core database when the folder has none")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	path := filepath.Join(c.data, "core.db")
	if !*initCore {
		if err := requireCore(&c); err != nil {
			return err
		}
	}
	if *to > 0 && store.IsPostgres(c.core) {
		return fmt.Errorf("%w: --to stages a SQLite core's upgrade; a PostgreSQL core is migrated whole (its migrations are numbered on their own)", errUsage)
	}
	if *to > 0 {
		if err := os.MkdirAll(c.data, 0o750); err != nil {
			return err
		}
		if err := store.MigrateTo(ctx, path, *to); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "core schema at version %d\n", *to)
		return nil
	}
	c.migrate = true
	db, err := openCore(ctx, &c, stderr, mayCreate)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.SchemaVersion(ctx)
	fmt.Fprintf(stdout, "core schema at version %d\n", v)
	return err
}

// verbFlags checks the verb of a two-word command ("user add", "his replay")
// and returns its flag set with the common flags registered.
func verbFlags(args []string, cmd, verb, usage string, stderr io.Writer) (*flag.FlagSet, *common, error) {
	if len(args) == 0 || args[0] != verb {
		fmt.Fprintln(stderr, "usage: zhiliao "+cmd+" "+verb+" "+usage)
		return nil, nil, errUsage
	}
	fs := flag.NewFlagSet(cmd+" "+verb, flag.ContinueOnError)
	c := &common{}
	c.register(fs)
	return fs, c, nil
}

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c, err := verbFlags(args, "user", "add", "--username U --password P --role ROLE [--staff CODE] [--dept CODE] [--institution CODE]", stderr)
	if err != nil {
		return err
	}
	username := fs.String("username", "", "用户名 login name")
	password := fs.String("password", "", "密码 password (10–72 characters of 3 classes, not containing the username; env ZHILIAO_PASSWORD keeps it out of shell history)")
	role := fs.String("role", "", "角色 admin|security_admin|audit_admin|dept_manager|quality_office|evaluator|clinician|front_desk|his")
	staff := fs.String("staff", "", "医护人员工号 the staff record the account acts as (required for clinician and dept_manager; sets the department)")
	dept := fs.String("dept", "", "科室编码 department code (front_desk bound to one department)")
	inst := fs.String("institution", "", "医院编码 institution code (default: the only one)")
	name := fs.String("name", "", "显示名称 display name")
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	db, err := openCore(ctx, c, stderr, mustExist)
	if err != nil {
		return err
	}
	defer db.Close()
	u := &model.User{Username: *username, DisplayName: *name, Role: *role}
	if err := resolveScope(ctx, db, u, *inst, *dept); err != nil {
		return err
	}
	if *staff != "" {
		st, err := db.StaffByCode(ctx, u.InstitutionID, *staff)
		if err != nil {
			return err
		}
		u.StaffID = &st.ID
	}
	if err := db.CreateUser(ctx, u, *password); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "用户已创建 user %s (%s) id %d\n", u.Username, u.Role, u.ID)
	return nil
}

// resolveScope sets a user's institution and department from their codes.
func resolveScope(ctx context.Context, db *store.DB, u *model.User, instCode, deptCode string) error {
	insts, err := db.Institutions(ctx)
	if err != nil {
		return err
	}
	var inst *model.Institution
	for _, i := range insts {
		if i.Code == instCode || (instCode == "" && len(insts) == 1) {
			inst = i
		}
	}
	if inst == nil {
		return model.Invalid("institution", "找不到医院 %q (unknown institution; the core has %d)", instCode, len(insts))
	}
	u.InstitutionID = inst.ID
	if deptCode == "" {
		return nil
	}
	depts, err := db.Departments(ctx, inst.ID)
	if err != nil {
		return err
	}
	for _, d := range depts {
		if d.Code == deptCode {
			u.DeptID = &d.ID
			return nil
		}
	}
	return model.Invalid("dept", "找不到科室 %q (unknown department)", deptCode)
}

func runHIS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c, err := verbFlags(args, "his", "replay", "[--data DIR]", stderr)
	if err != nil {
		return err
	}
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	db, err := openCore(ctx, c, stderr, mustExist)
	if err != nil {
		return err
	}
	defer db.Close()
	m := &Main{DB: db}
	intake, err := m.hisIntake(ctx)
	if err != nil {
		return err
	}
	n, err := his.Replay(ctx, intake, db, 10000)
	if err != nil {
		return err
	}
	left, err := db.PendingDeadLetters(ctx, 10000)
	fmt.Fprintf(stdout, "重放成功 replayed %d HL7 dead letters; %d still refused\n", n, len(left))
	return err
}

// trailingNumber is the number a code ends in (H002 → 2), 0 when none.
func trailingNumber(code string) int64 {
	i := len(code)
	for i > 0 && code[i-1] >= '0' && code[i-1] <= '9' {
		i--
	}
	if i == len(code) || len(code)-i > 6 {
		return 0
	}
	n, _ := strconv.ParseInt(code[i:], 10, 64)
	return n
}
