package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/vault"
)

// loadMaster reads the master key file. Where there is none, a command that
// creates the core (gen, serve --demo, migrate --init) makes one in the data
// folder and says so, unless --key-file named a file: a named key that is
// missing is an error, never silently replaced. Other commands go on
// without a key: a core that has keys then refuses to open, saying why.
func loadMaster(c *common, stderr io.Writer, create bool) (*vault.Master, error) {
	path := c.keyPath()
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return vault.LoadMaster(path)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %v", vault.ErrMasterKey, err)
	case c.keyFile != "":
		return nil, fmt.Errorf("%w: 主密钥文件 %s 不存在 (key file not found; `zhiliao keys init --key-file %s` makes a new one, for a new core only)", vault.ErrMasterKey, path, path)
	case !create:
		return nil, nil
	}
	if c.core == "" {
		if _, err := os.Stat(filepath.Join(c.data, "core.db")); err == nil {
			return nil, nil // an existing core without keys stays as it is until `zhiliao keys init`
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if err := vault.CreateMasterFile(path); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "已创建主密钥 %s：它加密核心库中的身份证号和手机号，请另行备份，丢失后无法解密。\n"+
		"created the master key %s: it seals the core's ID numbers and phones; back it up apart from the data, without it they cannot be read.\n", path, path)
	return vault.LoadMaster(path)
}

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: zhiliao keys init|rotate|reencrypt [--key-file F] [--new-key-file F2]")
		return errUsage
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	var c common
	c.register(fs)
	newKey := fs.String("new-key-file", "", "新主密钥文件 rotate: the new master key, made beforehand by `zhiliao keys init --key-file F2` (env ZHILIAO_NEW_KEY_FILE)")
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	switch args[0] {
	case "init":
		path := c.keyPath()
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return err
		}
		if err := vault.CreateMasterFile(path); err != nil {
			return fmt.Errorf("%w (an existing key file is never overwritten)", err)
		}
		m, err := vault.LoadMaster(path)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "主密钥 master key %s (fingerprint %s): 请另行备份 back it up apart from the data\n", path, m.Fingerprint)
		return nil
	case "rotate":
		if *newKey == "" {
			return fmt.Errorf("%w: --new-key-file is required", errUsage)
		}
		next, err := vault.LoadMaster(*newKey)
		if err != nil {
			return err
		}
		db, err := openCore(ctx, &c, stderr, false)
		if err != nil {
			return err
		}
		defer db.Close()
		n, err := db.RotateMaster(ctx, next)
		if err != nil {
			return err
		}
		if err := cliAudit(ctx, db, "keys", "zhiliao keys rotate", fmt.Sprintf("master=%s keys=%d", next.Fingerprint, n)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已用新主密钥 %s 重新封装 %d 个密钥，数据行未改写。此后请用 --key-file %s 启动（旧密钥文件可在备份后销毁）。\n"+
			"re-wrapped %d keys under master key %s; no data row was rewritten. Start with --key-file %s from now on.\n",
			next.Fingerprint, n, *newKey, n, next.Fingerprint, *newKey)
		return nil
	case "reencrypt":
		db, err := openCore(ctx, &c, stderr, false)
		if err != nil {
			return err
		}
		defer db.Close()
		id, n, err := db.Reencrypt(ctx, stdout)
		if err != nil {
			return err
		}
		if err := cliAudit(ctx, db, "keys", "zhiliao keys reencrypt", fmt.Sprintf("data_key=%s rows=%d", id, n)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已用数据密钥 %s 重新加密 %d 行 re-sealed %d rows under data key %s\n", id, n, n, id)
		return nil
	}
	return fmt.Errorf("%w: keys %s: want init, rotate or reencrypt", errUsage, args[0])
}

// periodFlags are --from and --to as days, China time; to is inclusive.
func periodFlags(fs *flag.FlagSet) (from, to *string) {
	return fs.String("from", "", "起始日期 first day YYYY-MM-DD (env ZHILIAO_FROM)"), fs.String("to", "", "截止日期 last day YYYY-MM-DD, inclusive (env ZHILIAO_TO)")
}

func parsePeriod(from, to string) (time.Time, time.Time, error) {
	var f, t time.Time
	var err error
	if from != "" {
		if f, err = time.ParseInLocation("2006-01-02", from, model.Local); err != nil {
			return f, t, fmt.Errorf("%w: --from %q: want YYYY-MM-DD", errUsage, from)
		}
	}
	if to != "" {
		if t, err = time.ParseInLocation("2006-01-02", to, model.Local); err != nil {
			return f, t, fmt.Errorf("%w: --to %q: want YYYY-MM-DD", errUsage, to)
		}
		t = t.AddDate(0, 0, 1)
	}
	return f, t, nil
}

func runRecords(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: zhiliao records verify [--from DAY --to DAY]")
		return errUsage
	}
	fs := flag.NewFlagSet("records verify", flag.ContinueOnError)
	var c common
	c.register(fs)
	fromS, toS := periodFlags(fs)
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	from, to, err := parsePeriod(*fromS, *toS)
	if err != nil {
		return err
	}
	db, err := openCore(ctx, &c, stderr, false)
	if err != nil {
		return err
	}
	defer db.Close()
	began := time.Now()
	rep, err := db.VerifyRecords(ctx, from, to, stderr)
	if err != nil {
		return err
	}
	if err := cliAudit(ctx, db, "record", "zhiliao records verify", fmt.Sprintf("from=%s to=%s checked=%d altered=%d invalid=%d",
		*fromS, *toS, rep.Checked, rep.ByState[store.SignatureAltered], rep.ByState[store.SignatureInvalid])); err != nil {
		return err
	}
	secs := time.Since(began).Seconds()
	fmt.Fprintf(stdout, "核验 %d 条已签名治疗记录（%.1f 秒，%.0f 条/秒）：有效 %d，签名后被修改 %d，签名无效 %d，无 SM2 签名 %d\n"+
		"verified %d signed records in %.1f s (%.0f/s): valid %d, altered %d, invalid %d, without an SM2 signature %d\n",
		rep.Checked, secs, float64(rep.Checked)/secs, rep.ByState[store.SignatureValid], rep.ByState[store.SignatureAltered], rep.ByState[store.SignatureInvalid], rep.ByState[store.SignatureMissing],
		rep.Checked, secs, float64(rep.Checked)/secs, rep.ByState[store.SignatureValid], rep.ByState[store.SignatureAltered], rep.ByState[store.SignatureInvalid], rep.ByState[store.SignatureMissing])
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p)
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%d 条记录核验未通过 (%d records failed verification)", rep.ByState[store.SignatureAltered]+rep.ByState[store.SignatureInvalid], rep.ByState[store.SignatureAltered]+rep.ByState[store.SignatureInvalid])
	}
	return nil
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: zhiliao audit seal|verify|export [--from DAY --to DAY --out FILE.csv]")
		return errUsage
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	var c common
	c.register(fs)
	fromS, toS := periodFlags(fs)
	out := fs.String("out", "", "export: CSV 文件 the CSV written; the chain proof goes beside it as FILE.proof.json (env ZHILIAO_OUT)")
	if err := parse(fs, args[1:], stderr); err != nil {
		return err
	}
	db, err := openCore(ctx, &c, stderr, false)
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "seal":
		n, err := db.SealAudit(ctx)
		if err == nil {
			fmt.Fprintf(stdout, "封存 sealed %d audit lines\n", n)
		}
		return err
	case "verify":
		if _, err := db.SealAudit(ctx); err != nil {
			return err
		}
		rep, err := db.VerifyAudit(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "审计日志：链上 %d 行，锚点 %d 个（SM2 签名），待封存 %d 行；最早 %s，最新 %s\n"+
			"audit log: %d chained lines, %d signed anchors, %d waiting to be sealed; oldest %s, newest %s\n",
			rep.Lines, rep.Anchors, rep.Pending, rep.Oldest, rep.Newest, rep.Lines, rep.Anchors, rep.Pending, rep.Oldest, rep.Newest)
		for _, p := range rep.Problems {
			fmt.Fprintln(stdout, p)
		}
		if !rep.OK() {
			return fmt.Errorf("审计日志核验未通过：%d 处问题 (the audit log failed verification: %d problems)", len(rep.Problems), len(rep.Problems))
		}
		fmt.Fprintln(stdout, "核验通过 verified: no line deleted, altered or reordered")
		return nil
	case "export":
		if *out == "" {
			return fmt.Errorf("%w: --out FILE.csv is required", errUsage)
		}
		from, to, err := parsePeriod(*fromS, *toS)
		if err != nil {
			return err
		}
		// The export is itself audited, before the chain is sealed and
		// read: the file it writes holds its own line.
		if err := cliAudit(ctx, db, "audit_log", "zhiliao audit export", fmt.Sprintf("from=%s to=%s out=%s", *fromS, *toS, *out)); err != nil {
			return err
		}
		if _, err := db.SealAudit(ctx); err != nil {
			return err
		}
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		w := csv.NewWriter(f)
		proof, err := db.ExportAudit(ctx, from, to, w)
		w.Flush()
		if cerr := f.Close(); err == nil {
			err = cmpErr(w.Error(), cerr)
		}
		if err != nil {
			os.Remove(*out)
			return err
		}
		if err := os.WriteFile(*out+".proof.json", proof, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已导出 %s 与链证明 %s.proof.json wrote %s and its chain proof\n", *out, *out, *out)
		return nil
	}
	return fmt.Errorf("%w: audit %s: want seal, verify or export", errUsage, args[0])
}

// cliAudit writes the audit line of a command run by the operator.
func cliAudit(ctx context.Context, db *store.DB, entity, route, detail string) error {
	ctx = model.WithActor(ctx, model.Actor{Role: model.RoleSystem, Username: "cli"})
	return db.Audit(ctx, model.AuditEntry{Action: "admin", Route: route, Entity: entity, Status: 200, Detail: detail})
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
