package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/documents"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/evidence"
	"github.com/zhiliao/zhiliao/exports"
	"github.com/zhiliao/zhiliao/gen"
	"github.com/zhiliao/zhiliao/hisfeed"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/ingest/his"
	"github.com/zhiliao/zhiliao/interop/cda"
	"github.com/zhiliao/zhiliao/interop/mllp"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/notify"
	"github.com/zhiliao/zhiliao/reports"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
)

// Main is the running service: stores, HTTP server and background jobs.
// End-to-end tests build one on :0.
type Main struct {
	// leading is 1 while this instance runs the relay and the schedules.
	leading atomic.Int32

	Common common
	Addr   string
	Demo   bool
	Seed   uint64
	// MLLPAddr, when set, takes HL7 v2 messages from the HIS over MLLP,
	// from the peers of MLLPAllow (CIDRs; loopback when empty), frames of
	// at most MLLPMaxFrame bytes, over TLS when MLLPCert and MLLPKey are set.
	MLLPAddr     string
	OIDRoot      string // the hospital's OID for the documents' local code systems
	HL7Out       string // name=host:port,… the peers the HL7 v2 feed tells (off when empty)
	MLLPAllow    string
	MLLPMaxFrame int
	MLLPCert     string
	MLLPKey      string
	// MetricsAddr serves /metrics on a listener of its own; MetricsToken
	// also serves it on the main port to a bearer of the token.
	MetricsAddr  string
	MetricsToken string
	// TrustedProxy are the CIDRs whose X-Forwarded-For is believed.
	TrustedProxy string
	// LoginFailuresPerAddress and LoginFailuresPerAccount are the login
	// throttle's limits: failed logins a minute (access.LoginThrottle).
	LoginFailuresPerAddress, LoginFailuresPerAccount int
	// TLSCert and TLSKey make the main port speak HTTPS. ExternalURL is
	// the address users reach the service at; https there (a proxy ending
	// TLS in front) makes every cookie Secure, as TLS here does.
	TLSCert, TLSKey, ExternalURL string
	// Policy is the account policy (lockout, session lengths).
	Policy store.AccountPolicy
	Stdout io.Writer
	Stderr io.Writer
	WH     whFlags
	ETL    etlFlags

	DB        *store.DB
	Warehouse warehouse.Warehouse
	Relay     *cdc.Relay
	Marts     *etl.Runner
	Schedule  *etl.Scheduler
	Exports   *exports.Manager
	Reports   *exports.Schedule
	// RatingRules replaces the embedded rating rules when set.
	RatingRules    string
	ReportSchedule string
	Server         *api.Server
	HTTP           *http.Server
	Listener       net.Listener
	// MLLP is the HL7 listener when MLLPAddr is set.
	MLLP net.Listener
	// Metrics is the metrics listener when MetricsAddr is set.
	Metrics net.Listener
	// NotifyWebhook and NotifySecretFile set the notice channel: a signed
	// webhook to the hospital's message gateway. Without them notices stay
	// queued (the patient page's inbox shows them anyway).
	NotifyWebhook, NotifySecretFile string
	Notices                         *notify.Dispatcher
	intake                          *his.Intake
	feeds                           []*hisfeed.Feed
	demoMLLP                        bool // the MLLP port is the demo's default, not asked for
	log                             *slog.Logger
}

// demoPassword is the password of every demo login; demo data is synthetic.
// It meets the password policy (10 characters of three classes).
const demoPassword = "Zhiliao-2026"

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	m := &Main{Stdout: stdout, Stderr: stderr}
	m.Common.register(fs)
	m.WH.register(fs)
	m.ETL.register(fs)
	fs.StringVar(&m.Addr, "addr", "127.0.0.1:8080", "监听地址 listen address (env ZHILIAO_ADDR)")
	fs.BoolVar(&m.Demo, "demo", false, "演示模式：空数据目录时生成试点数据 generate the pilot preset into an empty data folder (env ZHILIAO_DEMO)")
	fs.Uint64Var(&m.Seed, "seed", 1, "演示数据种子 demo data seed")
	fs.StringVar(&m.RatingRules, "rating-rules", "", "评级规则文件 a rating rules file replacing the embedded version (env ZHILIAO_RATING_RULES)")
	fs.StringVar(&m.ReportSchedule, "report-schedule", exports.DefaultMonthly, "月报计划 cron schedule of the monthly reports, China time; empty disables (env ZHILIAO_REPORT_SCHEDULE)")
	fs.StringVar(&m.MLLPAddr, "mllp-addr", "", "HL7 v2 MLLP 监听地址 listen address for the HIS, e.g. 127.0.0.1:2575 (env ZHILIAO_MLLP_ADDR; off when empty)")
	fs.StringVar(&m.MLLPAllow, "mllp-allow", "127.0.0.0/8,::1/128", "允许的 HIS 地址 CIDRs the MLLP port serves; others are closed unread (env ZHILIAO_MLLP_ALLOW)")
	fs.IntVar(&m.MLLPMaxFrame, "mllp-max-frame", mllp.DefaultMaxFrame, "HL7 消息上限 largest MLLP frame in bytes (env ZHILIAO_MLLP_MAX_FRAME)")
	fs.StringVar(&m.OIDRoot, "oid-root", cda.ExampleOIDRoot, "医院 OID 根 the hospital's registered OID, root of the shared documents' local code systems (charge codes, record fields, HIS order numbers); the default is ISO's example arc (env ZHILIAO_OID_ROOT)")
	fs.StringVar(&m.HL7Out, "hl7-out", "", "HL7 v2 发送对端 peers told of bookings (SIU) and completed sessions (ORM) over MLLP, as name=host:port[,name=host:port]; off when empty (env ZHILIAO_HL7_OUT)")
	fs.StringVar(&m.TLSCert, "tls-cert", "", "HTTPS 证书 PEM certificate of the main port; with --tls-key it speaks HTTPS only (env ZHILIAO_TLS_CERT)")
	fs.StringVar(&m.TLSKey, "tls-key", "", "HTTPS 私钥 PEM key (env ZHILIAO_TLS_KEY)")
	fs.StringVar(&m.ExternalURL, "external-url", "", "对外地址 the URL users reach the service at; https:// marks every cookie Secure behind a TLS proxy (env ZHILIAO_EXTERNAL_URL)")
	fs.StringVar(&m.MLLPCert, "mllp-tls-cert", "", "MLLP TLS 证书 PEM certificate; with --mllp-tls-key the MLLP port speaks TLS (env ZHILIAO_MLLP_TLS_CERT)")
	fs.StringVar(&m.MLLPKey, "mllp-tls-key", "", "MLLP TLS 私钥 PEM key (env ZHILIAO_MLLP_TLS_KEY)")
	fs.StringVar(&m.MetricsAddr, "metrics-addr", "127.0.0.1:9464", "监控地址 listen address of /metrics, loopback by default; empty: none (env ZHILIAO_METRICS_ADDR)")
	fs.StringVar(&m.MetricsToken, "metrics-token", "", "监控令牌 also serve /metrics on --addr to a bearer of this token (env ZHILIAO_METRICS_TOKEN)")
	fs.StringVar(&m.TrustedProxy, "trusted-proxy", "", "可信反向代理 CIDRs whose X-Forwarded-For names the client (env ZHILIAO_TRUSTED_PROXY)")
	fs.IntVar(&m.LoginFailuresPerAddress, "login-failures-per-address", api.DefaultLoginsPerAddress, "每分钟每个客户端地址允许的登录失败次数 failed logins a minute from one client address before it must wait (env ZHILIAO_LOGIN_FAILURES_PER_ADDRESS)")
	fs.IntVar(&m.LoginFailuresPerAccount, "login-failures-per-account", api.DefaultLoginsPerAccount, "每分钟每个账号允许的登录失败次数 failed logins a minute at one account name (env ZHILIAO_LOGIN_FAILURES_PER_ACCOUNT)")
	m.Policy = store.DefaultAccountPolicy
	fs.IntVar(&m.Policy.MaxFailures, "lockout-failures", m.Policy.MaxFailures, "连续登录失败锁定次数 failed logins in a row that lock an account (env ZHILIAO_LOCKOUT_FAILURES)")
	fs.DurationVar(&m.Policy.LockFor, "lockout-duration", m.Policy.LockFor, "锁定时长 how long a locked account stays locked (env ZHILIAO_LOCKOUT_DURATION)")
	fs.DurationVar(&m.Policy.IdleTimeout, "session-idle", m.Policy.IdleTimeout, "会话空闲超时 a session unused this long ends (env ZHILIAO_SESSION_IDLE)")
	fs.DurationVar(&m.Policy.MaxSession, "session-max", m.Policy.MaxSession, "会话最长时间 a session ends this long after login (env ZHILIAO_SESSION_MAX)")
	fs.StringVar(&m.NotifyWebhook, "notify-webhook", "", "通知网关 URL the queued notices are posted to, signed (env ZHILIAO_NOTIFY_WEBHOOK; off when empty)")
	fs.StringVar(&m.NotifySecretFile, "notify-secret-file", "", "通知签名密钥文件 file holding the webhook's HMAC-SHA256 secret (env ZHILIAO_NOTIFY_SECRET_FILE)")
	fs.IntVar(&m.Policy.Password.MinLength, "password-min-length", m.Policy.Password.MinLength, "密码最短长度 (env ZHILIAO_PASSWORD_MIN_LENGTH)")
	fs.IntVar(&m.Policy.Password.Classes, "password-classes", m.Policy.Password.Classes, "密码字符类别数 of lower, upper, digit, other (env ZHILIAO_PASSWORD_CLASSES)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	mllpSet := false
	fs.Visit(func(f *flag.Flag) { mllpSet = mllpSet || f.Name == "mllp-addr" })
	m.Common.waitForCore = true
	if err := m.WH.validate(); err != nil {
		return err
	}
	if err := m.ETL.validate(); err != nil {
		return err
	}
	if m.ReportSchedule != "" {
		if err := etl.ParseSpec(m.ReportSchedule); err != nil {
			return fmt.Errorf("%w: --report-schedule %q: %v", errUsage, m.ReportSchedule, err)
		}
	}
	if m.NotifyWebhook != "" {
		if u, err := url.Parse(m.NotifyWebhook); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%w: --notify-webhook %q: want an http(s) URL", errUsage, m.NotifyWebhook)
		}
		if m.NotifySecretFile == "" {
			return fmt.Errorf("%w: --notify-webhook needs --notify-secret-file (the receiver checks every notice's signature)", errUsage)
		}
	}
	if _, _, err := net.SplitHostPort(m.Addr); err != nil {
		return fmt.Errorf("%w: --addr %q: %v", errUsage, m.Addr, err)
	}
	if m.MLLPAddr == "" && m.Demo && !mllpSet {
		// The demo receives HL7 from a HIS on the README's port, so an
		// integration engineer can try it at once; busy, the demo runs on.
		m.MLLPAddr, m.demoMLLP = DemoMLLPAddr, true
	}
	if m.MLLPAddr != "" {
		if _, _, err := net.SplitHostPort(m.MLLPAddr); err != nil {
			return fmt.Errorf("%w: --mllp-addr %q: %v", errUsage, m.MLLPAddr, err)
		}
	}
	if _, err := access.ParseTrusted(m.MLLPAllow); err != nil {
		return fmt.Errorf("%w: --mllp-allow: %v", errUsage, err)
	}
	if _, err := access.ParseTrusted(m.TrustedProxy); err != nil {
		return fmt.Errorf("%w: --trusted-proxy: %v", errUsage, err)
	}
	if (m.MLLPCert == "") != (m.MLLPKey == "") {
		return fmt.Errorf("%w: --mllp-tls-cert and --mllp-tls-key go together", errUsage)
	}
	if (m.TLSCert == "") != (m.TLSKey == "") {
		return fmt.Errorf("%w: --tls-cert and --tls-key go together", errUsage)
	}
	if m.ExternalURL != "" && !strings.HasPrefix(m.ExternalURL, "https://") && !strings.HasPrefix(m.ExternalURL, "http://") {
		return fmt.Errorf("%w: --external-url %q: want http:// or https://", errUsage, m.ExternalURL)
	}
	if m.LoginFailuresPerAddress < 1 || m.LoginFailuresPerAccount < 1 {
		return fmt.Errorf("%w: --login-failures-per-address and --login-failures-per-account want 1 or more", errUsage)
	}
	if m.Policy.MaxFailures < 1 || m.Policy.LockFor <= 0 || m.Policy.IdleTimeout <= 0 || m.Policy.MaxSession <= 0 ||
		m.Policy.Password.MinLength < 8 || m.Policy.Password.Classes < 1 || m.Policy.Password.Classes > 4 {
		return fmt.Errorf("%w: the account policy wants lockout-failures ≥ 1, positive durations, password-min-length ≥ 8 and 1–4 password classes", errUsage)
	}
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

// Open opens the stores, prepares demo data if asked, and listens.
func (m *Main) Open(ctx context.Context) error {
	var err error
	if m.log, err = m.Common.logger(m.Stderr); err != nil {
		return err
	}
	if m.DB, err = openCore(ctx, &m.Common, m.Stderr, m.Demo); err != nil {
		return err
	}
	if m.Demo {
		if err := m.prepareDemo(ctx); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	if m.Policy.MaxFailures > 0 {
		m.DB.Policy = m.Policy
	}
	clients, err := access.ParseTrusted(m.TrustedProxy)
	if err != nil {
		return err
	}
	if m.LoginFailuresPerAddress == 0 {
		m.LoginFailuresPerAddress = api.DefaultLoginsPerAddress
	}
	if m.LoginFailuresPerAccount == 0 {
		m.LoginFailuresPerAccount = api.DefaultLoginsPerAccount
	}
	m.Server = newAPIServer(m.DB, clients, access.NewLoginThrottle(clients, m.LoginFailuresPerAddress, m.LoginFailuresPerAccount), m.log)
	m.Server.MetricsToken = m.MetricsToken
	m.Server.OIDRoot = m.OIDRoot
	m.Server.Version, _, _, _ = buildVersion()
	m.Server.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhiliao_leader",
		Help: "1 while this instance runs the relay and the schedules (one instance per core at a time)."}, func() float64 {
		return float64(m.leading.Load())
	}))
	m.Server.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhiliao_outbox_last_seq",
		Help: "Sequence number of the newest CDC outbox event."}, func() float64 {
		n, _ := m.DB.OutboxHead(context.Background())
		return float64(n)
	}))
	if m.Warehouse, err = m.WH.open(ctx, &m.Common); err != nil {
		return err
	}
	if m.Relay, err = m.WH.relay(&m.Common, m.Stderr); err != nil {
		return err
	}
	m.Relay.Core, m.Relay.Warehouse = m.DB, m.Warehouse
	if err := m.Relay.Register(m.Server.Registry); err != nil {
		return err
	}
	m.Marts = &etl.Runner{Warehouse: m.Warehouse, Logger: m.log.With("component", "etl"), Metrics: etl.NewMetrics(m.Server.Registry)}
	m.Server.Analytics = m.Marts
	rules, err := reports.LoadRules(m.RatingRules)
	if err != nil {
		return err
	}
	m.Server.Rules = rules
	m.Marts.Placeholders = rules.Placeholders
	m.Exports = &exports.Manager{Source: m.Marts, Rules: rules, Dir: filepath.Join(m.Common.data, "reports"), Logger: m.log.With("component", "exports"),
		WarehouseNames: m.DB.WarehouseNames()}
	m.Server.Exports = m.Exports
	rulesJSON, err := reports.RulesFile(m.RatingRules)
	if err != nil {
		return err
	}
	// The evidence pack as an export job: the screenshots show the
	// dashboards as the account that asked sees them.
	m.Exports.Evidence = func(ctx context.Context, p reports.Params, out io.Writer) error {
		pk := &evidence.Pack{Source: m.Marts, Rules: rules, RulesJSON: rulesJSON, Screenshots: dashboardShots(m.DB, m.Marts, rules, p.As, m.log), Interop: m.DB}
		_, err := pk.Write(ctx, p, out, nil)
		return err
	}
	m.Reports = &exports.Schedule{Manager: m.Exports, Spec: m.ReportSchedule, Dims: m.Marts.Dimensions, Logger: m.log.With("component", "reports"),
		Now: m.DB.Now, Ready: m.martsCaughtUp}
	m.Schedule = &etl.Scheduler{Runner: m.Marts, Incremental: m.ETL.incremental, Full: m.ETL.full, Logger: m.log.With("component", "etl")}
	m.Relay.OnShipped = func(int64) { m.Schedule.Nudge() } // live figures: the marts follow the relay within seconds
	if m.Listener, err = net.Listen("tcp", m.Addr); err != nil {
		return err
	}
	if m.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(m.TLSCert, m.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		m.Listener = tls.NewListener(m.Listener, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	if m.feeds, err = m.hl7Feeds(); err != nil {
		return err
	}
	if m.MLLPAddr != "" {
		if m.intake, err = m.hisIntake(ctx); err != nil {
			return err
		}
		m.Server.ReplayInbound = func(ctx context.Context) (int, error) { return his.Replay(ctx, m.intake, m.DB, 100) }
		if m.MLLP, err = net.Listen("tcp", m.MLLPAddr); err != nil && m.demoMLLP {
			m.log.Warn("demo HL7 listener not started: port busy", "addr", m.MLLPAddr, "err", err)
			m.MLLP, m.MLLPAddr, m.Server.ReplayInbound = nil, "", nil
		} else if err != nil {
			return err
		}
		if m.MLLPCert != "" {
			cert, err := tls.LoadX509KeyPair(m.MLLPCert, m.MLLPKey)
			if err != nil {
				return fmt.Errorf("--mllp-tls-cert/--mllp-tls-key: %w", err)
			}
			m.MLLP = tls.NewListener(m.MLLP, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		}
	}
	if m.MetricsAddr != "" {
		if m.Metrics, err = net.Listen("tcp", m.MetricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
	}
	if m.NotifyWebhook != "" {
		secret, err := os.ReadFile(m.NotifySecretFile)
		if err != nil {
			return fmt.Errorf("--notify-secret-file: %w", err)
		}
		if secret = bytes.TrimSpace(secret); len(secret) < 16 {
			return fmt.Errorf("--notify-secret-file %s: the secret has %d bytes; use at least 16", m.NotifySecretFile, len(secret))
		}
		m.Notices = &notify.Dispatcher{Store: m.DB, Channel: &notify.Webhook{URL: m.NotifyWebhook, Secret: secret}, Logger: m.log.With("component", "notify")}
	}
	handler := m.Server.Handler()
	if strings.HasPrefix(m.ExternalURL, "https://") {
		handler = access.ForceSecureCookies(handler)
	}
	m.HTTP = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 120 * time.Second, IdleTimeout: 120 * time.Second}
	m.Server.SetReady(true)
	return nil
}

// sealAudit chains the audit log's new lines every period, and once more on
// the way out, so a line waits seconds, not until an operator asks, to be
// covered by a signed anchor (store/auditchain.go).
func (m *Main) sealAudit(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if _, err := m.DB.SealAudit(context.WithoutCancel(ctx)); err != nil {
				m.log.Error("audit seal", "err", err)
			}
			return
		case <-t.C:
			if _, err := m.DB.SealAudit(ctx); err != nil && ctx.Err() == nil {
				m.log.Error("audit seal", "err", err)
			}
		}
	}
}

// martsCaughtUp waits until the relay has shipped what the outbox held when
// it was asked and the marts have run over it: a report caught up after an
// outage must count what the core held, not what the warehouse had before.
func (m *Main) martsCaughtUp(ctx context.Context) error {
	head, err := m.DB.OutboxHead(ctx)
	if err != nil {
		return err
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if m.Relay.Shipped() >= head {
			_, err := m.Marts.Run(ctx, etl.Options{Job: "incremental"})
			if !errors.Is(err, etl.ErrBusy) {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// closeOutDays runs the core's close-out (DESIGN §14) at once, which closes
// the days missed while no instance led, then every period, so a booking
// turns no-show within a period of its grace ending. The rule reads the
// core's clock; this loop only decides how often to ask.
func (m *Main) closeOutDays(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := m.DB.CloseOut(ctx, 0, 0)
		switch {
		case err != nil && ctx.Err() == nil:
			m.log.Error("close-out", "err", err)
		case res.Changed():
			m.log.Info("close-out", "no_shows", res.NoShows, "tickets_closed", res.TicketsClosed,
				"checkins_closed", res.CheckinsClosed, "sessions_flagged", res.SessionsFlagged)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// makeDocuments turns every signed record and consent into its shared
// document (the documents package) at once, which covers what was signed
// while no instance led, then every period.
func (m *Main) makeDocuments(ctx context.Context, every time.Duration) {
	g := &documents.Generator{Core: m.DB, OIDRoot: m.OIDRoot, Now: m.DB.Now, Logger: m.log.With("component", "documents")}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := g.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			m.log.Error("documents", "err", err)
		case res.Registered+res.Failed > 0:
			m.log.Info("documents", "registered", res.Registered, "failed", res.Failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// URL is the base URL the service listens on.
func (m *Main) URL() string {
	if m.TLSCert != "" {
		return "https://" + m.Listener.Addr().String()
	}
	return "http://" + m.Listener.Addr().String()
}

// Run serves until ctx ends, then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	m.log.Info("serving", "url", m.URL(), "data", m.Common.data)
	fmt.Fprintf(m.Stdout, "zhiliao 已启动 listening on %s\n", m.URL())
	errc := make(chan error, 3)
	go func() { errc <- m.HTTP.Serve(m.Listener) }()
	// The relay and the schedules run in one instance at a time: on
	// PostgreSQL several instances may serve one core, and the one holding
	// the duties is elected through the database (store.DB.Lead); on
	// SQLite this process leads at once.
	dutiesCtx, stopDuties := context.WithCancel(ctx)
	dutiesDone := make(chan struct{})
	var dutyErr error
	go func() {
		defer close(dutiesDone)
		m.DB.Lead(dutiesCtx, "relay-and-schedules", func(lctx context.Context) {
			if err := m.Schedule.Start(); err != nil {
				dutyErr = err
				stopDuties()
				return
			}
			defer m.Schedule.Stop()
			if err := m.Reports.Start(); err != nil {
				dutyErr = err
				stopDuties()
				return
			}
			defer m.Reports.Stop()
			// The dispatcher and the audit sealer end before the duties do:
			// Close must not close the core under their last write.
			var background sync.WaitGroup
			defer background.Wait()
			if m.Notices != nil {
				background.Go(func() { m.Notices.Run(lctx, 10*time.Second) })
			}
			background.Go(func() { m.sealAudit(lctx, 5*time.Second) })
			background.Go(func() { m.closeOutDays(lctx, time.Minute) })
			background.Go(func() { m.makeDocuments(lctx, 10*time.Second) })
			for _, f := range m.feeds {
				background.Go(func() { f.Run(lctx, 5*time.Second) })
			}
			// The relay retries warehouse outages by itself; it stops only
			// for what waiting cannot fix, and then the service still
			// serves the core while /metrics shows the lag growing.
			if err := m.Relay.Run(lctx); err != nil && lctx.Err() == nil {
				m.log.Error("relay stopped", "err", err)
			}
			<-lctx.Done()
		}, func(leading bool) {
			if leading {
				m.leading.Store(1)
			} else {
				m.leading.Store(0)
			}
		})
	}()
	defer func() { stopDuties(); <-dutiesDone }()
	if m.MLLP != nil {
		m.log.Info("hl7 mllp intake", "addr", m.MLLP.Addr().String())
		allow, _ := access.ParseTrusted(m.MLLPAllow) // validated when parsed
		srv := &mllp.Server{Handle: m.intake.Handle, Logger: m.log, Allow: allow.Trusted, MaxFrame: m.MLLPMaxFrame}
		go func() {
			if err := srv.Serve(ctx, m.MLLP); err != nil {
				errc <- err
			}
		}()
	}
	if m.Metrics != nil {
		ms := &http.Server{Handler: m.Server.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go ms.Serve(m.Metrics)
		defer ms.Close()
	}
	select {
	case err := <-errc:
		return err
	case <-dutiesCtx.Done():
		if dutyErr != nil {
			return dutyErr
		}
	}
	m.Server.SetReady(false)
	shut, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := m.HTTP.Shutdown(shut); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	m.log.Info("stopped")
	return nil
}

// Close releases the stores.
func (m *Main) Close() error {
	var errs []error
	if m.Warehouse != nil {
		errs = append(errs, m.Warehouse.Close())
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	return errors.Join(errs...)
}

// DemoMLLPAddr is where the demo listens for HL7 v2 from a HIS.
const DemoMLLPAddr = "127.0.0.1:2575"

// hl7Feeds are the HL7 v2 feeds of --hl7-out, one per peer.
func (m *Main) hl7Feeds() ([]*hisfeed.Feed, error) {
	var out []*hisfeed.Feed
	seen := map[string]bool{}
	for _, p := range strings.Split(m.HL7Out, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		name, addr, ok := strings.Cut(p, "=")
		if _, _, err := net.SplitHostPort(addr); !ok || name == "" || len(name) > 40 || seen[name] || err != nil {
			return nil, fmt.Errorf("--hl7-out: %q is not name=host:port (each name once)", p)
		}
		seen[name] = true
		out = append(out, &hisfeed.Feed{Core: m.DB, Peer: hisfeed.Peer{Name: name, Addr: addr, App: strings.ToUpper(name)},
			Client: &mllp.Client{Addr: addr, Attempts: 1, Timeout: 10 * time.Second}, Now: m.DB.Now, Logger: m.log.With("component", "hl7-out", "peer", name)})
	}
	return out, nil
}

// hisIntake is the HL7 intake for the core's one institution.
func (m *Main) hisIntake(ctx context.Context) (*his.Intake, error) {
	insts, err := m.DB.Institutions(ctx)
	if err != nil {
		return nil, err
	}
	if len(insts) != 1 {
		return nil, fmt.Errorf("the HL7 intake serves one institution; the core has %d", len(insts))
	}
	return &his.Intake{Orders: m.DB, DeadLetters: m.DB, InstitutionID: insts[0].ID}, nil
}

// demoUsers are the logins of the demo, one per role.
// A clinical login acts as a staff record of its department (of staffRole
// when one is free), like any clinical account.
var demoUsers = []struct{ username, name, role, dept, staffRole string }{
	{"admin", "系统管理员", model.RoleAdmin, "", ""},
	{"anquan", "安全管理员", model.RoleSecurityAdmin, "", ""},
	{"shenji", "安全审计员", model.RoleAuditAdmin, "", ""},
	{"zhikong", "质控科", model.RoleQualityOffice, "", ""},
	{"pingshen", "评审专家", model.RoleEvaluator, "", ""},
	{"jg_zhuren", "激光中心主任", model.RoleDeptManager, "JG", model.StaffDoctor},
	{"jg_zhiliaoshi", "激光中心治疗师", model.RoleClinician, "JG", model.StaffTherapist},
	{"qiantai", "前台护士站", model.RoleFrontDesk, "", ""},
	{"his", "HIS 接口", model.RoleHIS, "", ""},
}

// prepareDemo generates the pilot preset and the demo logins into an empty
// core, then prints the logins.
func (m *Main) prepareDemo(ctx context.Context) error {
	insts, err := m.DB.Institutions(ctx)
	if err != nil {
		return err
	}
	if len(insts) == 0 {
		fmt.Fprintln(m.Stderr, "演示数据 generating the pilot preset (one laser centre, three months)…")
		st, err := gen.Run(ctx, m.DB, gen.Config{Preset: gen.Presets["pilot"], Seed: m.Seed, Progress: m.Stderr})
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "演示数据已生成 %d sessions, %d CDC events\n", st.Sessions, st.Events)
	}
	// On a folder that already held data, the demo logins may be missing
	// (data made by gen) or taken by someone else: create the missing ones
	// and print only logins that exist with the demo password.
	var ready []int
	for i, u := range demoUsers {
		var role string
		err := m.DB.QueryRowContext(ctx, "SELECT role FROM user_account WHERE username = ?", u.username).Scan(&role)
		switch {
		case err == nil:
			if token, _, _, err := m.DB.Login(ctx, u.username, demoPassword); err == nil {
				m.DB.Logout(ctx, token)
				ready = append(ready, i)
			} else {
				fmt.Fprintf(m.Stderr, "演示账号 %s 已存在且密码不是演示密码，未列出 (exists with another password)\n", u.username)
			}
			continue
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		du := &model.User{Username: u.username, DisplayName: u.name, Role: u.role}
		if err := resolveScope(ctx, m.DB, du, "", u.dept); err != nil {
			fmt.Fprintf(m.Stderr, "演示账号 %s 未创建：%v\n", u.username, err)
			continue
		}
		if u.staffRole != "" {
			free, err := m.DB.UnboundStaff(ctx, *du.DeptID, u.staffRole)
			if err == nil && len(free) == 0 {
				free, err = m.DB.UnboundStaff(ctx, *du.DeptID, "")
			}
			if err != nil {
				return err
			}
			if len(free) == 0 {
				fmt.Fprintf(m.Stderr, "演示账号 %s 未创建：科室无未绑定的医护人员 (no free staff record)\n", u.username)
				continue
			}
			du.StaffID, du.DeptID = &free[0].ID, nil
			du.DisplayName = u.name + "（" + free[0].Name + "）"
		}
		if err := m.DB.CreateUser(ctx, du, demoPassword); err != nil {
			return err
		}
		ready = append(ready, i)
	}
	if len(ready) == 0 {
		fmt.Fprintln(m.Stdout, "没有可用的演示账号 no demo login exists in this data folder")
		return nil
	}
	fmt.Fprintln(m.Stdout, "演示账号 demo logins (password "+demoPassword+"):")
	for _, i := range ready {
		u := demoUsers[i]
		fmt.Fprintf(m.Stdout, "  %-14s %-16s %s\n", u.username, u.role, u.name)
	}
	return nil
}
