package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/dashboards"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/evidence"
	"github.com/zhiliao/zhiliao/frontline"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/pdfprint"
	"github.com/zhiliao/zhiliao/reports"
	"github.com/zhiliao/zhiliao/store"
)

// shotPages are the dashboards an evidence pack holds, as evaluators see
// them: 数据质量与评级 and 总览.
var shotPages = []struct{ slug, file string }{{"quality", "quality.png"}, {"", "overview.png"}}

// dashboardShots renders the pack's dashboards for the period, as account
// as sees them: the service's own pages, served for the occasion on a
// loopback port with a ten-minute session the command line issues (and
// audits), captured by pdfprint.Screenshots.
func dashboardShots(db *store.DB, runner *etl.Runner, rules *reports.Rules, as string, log *slog.Logger) func(context.Context, reports.Params) ([]evidence.Shot, error) {
	return func(ctx context.Context, p reports.Params) ([]evidence.Shot, error) {
		if _, err := pdfprint.Browser(); err != nil {
			return nil, err
		}
		// The service issues the session itself: as is the command line's
		// --as, or the account that asked for the export job (from its own
		// session, never from a request body).
		sys := model.WithActor(ctx, model.Actor{Role: model.RoleSystem})
		token, _, err := db.IssueToken(sys, as, 10*time.Minute, "evidence pack screenshots "+p.From+" "+p.To)
		if err != nil {
			return nil, err
		}
		s := newAPIServer(db, &access.Clients{}, nil, log)
		s.Analytics, s.Rules = runner, rules
		s.SetReady(true)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln)
		defer hs.Close()
		q := url.Values{"from": {p.From}, "to": {p.To}}
		if len(p.Depts) == 1 {
			q.Set("dept", fmt.Sprint(p.Depts[0]))
		}
		var pages [][2]string
		for _, pg := range shotPages {
			pages = append(pages, [2]string{"/dash/" + pg.slug + "?" + q.Encode(), pg.file})
		}
		// Drawn: no request pending, the marts built, every chart inked.
		shots, err := pdfprint.Screenshots(ctx, "http://"+ln.Addr().String(), pdfprint.Session{Cookie: dashboards.Cookie, Token: token}, pages,
			`document.body.dataset.ready === '1' && document.getElementById('building').hidden && [...document.querySelectorAll('[id^="chart-"]')].every(e => e.dataset.drawn === '1')`)
		out := make([]evidence.Shot, len(shots))
		for i, sh := range shots {
			out[i] = evidence.Shot{Name: sh.Name, PNG: sh.PNG}
		}
		return out, err
	}
}

// newAPIServer is the API with its pages (the dashboards and the front
// line, sharing the API's client addresses and login throttle): the one
// place it is built, for the service and for the evidence pack's
// screenshots. The caller adds the analytics and the rules.
func newAPIServer(db *store.DB, clients *access.Clients, throttle *access.LoginThrottle, log *slog.Logger) *api.Server {
	s := api.NewServer(db, log)
	s.Clients, s.Throttle = clients, throttle
	pages := dashboards.New(db, log)
	pages.Throttle, pages.Clients = throttle, clients
	s.Pages = pages
	s.Front, s.FrontPatterns = frontline.New(db, log), frontline.Patterns
	return s
}

// writeEvidencePack is `zhiliao export evidence-pack`: the pack written
// through a temporary file (a failed pack leaves nothing), audited as an
// export by the command line.
func writeEvidencePack(ctx context.Context, db *store.DB, runner *etl.Runner, rules *reports.Rules, rulesPath string, p reports.Params,
	as, out string, log *slog.Logger, stdout, stderr io.Writer) error {
	if as == "" {
		if err := db.QueryRowContext(ctx, "SELECT username FROM user_account WHERE role = ? AND disabled = 0 ORDER BY id LIMIT 1",
			model.RoleQualityOffice).Scan(&as); err != nil {
			as = "" // no quality-office account: the screenshots are left out, and the manifest says why
		}
	}
	rulesJSON, err := reports.RulesFile(rulesPath)
	if err != nil {
		return err
	}
	pk := &evidence.Pack{Source: runner, Rules: rules, RulesJSON: rulesJSON, Interop: db}
	if as != "" {
		pk.Screenshots = dashboardShots(db, runner, rules, as, log)
	} else {
		pk.Screenshots = func(context.Context, reports.Params) ([]evidence.Shot, error) {
			return nil, fmt.Errorf("没有质控科账号可用于截图：请用 --as 指定账号 (no account to render the dashboards as; use --as)")
		}
	}
	began := time.Now()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".pack-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	man, err := pk.Write(ctx, p, tmp, func(step string) { fmt.Fprintf(stderr, "证据包 evidence pack: %s\n", step) })
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	status, detail := 200, fmt.Sprintf("from=%s to=%s depts=%v out=%s", p.From, p.To, p.Depts, out)
	if err != nil {
		status, detail = 422, detail+" error="+err.Error()
	} else {
		detail += fmt.Sprintf(" files=%d omitted=%d", len(man.Files), len(man.Omitted))
	}
	if aerr := db.Audit(ctx, model.AuditEntry{Action: "export", Route: "zhiliao export evidence-pack", Entity: "report", EntityID: "evidence-pack",
		Status: status, Detail: detail}); aerr != nil && err == nil {
		err = aerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "已导出 wrote %s: %d files in %.1fs\n", out, len(man.Files)+1, time.Since(began).Seconds())
	for _, o := range man.Omitted {
		fmt.Fprintf(stdout, "  未包含 left out: %s — %s\n", o.What, o.Why)
	}
	return nil
}
