package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/interop/mllp"
	"github.com/zhiliao/zhiliao/pdfprint"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestServeDemo runs `serve --demo` on :0 over an empty data folder: the
// pilot is generated, the logins printed, and the operational endpoints answer.
func TestServeDemo(t *testing.T) {
	data := t.TempDir()
	var stdout, stderr bytes.Buffer
	m := &Main{Addr: "127.0.0.1:0", MLLPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Demo: true, Seed: 1, Stdout: &stdout, Stderr: &stderr,
		ETL: etlFlags{incremental: "@every 1s", full: "0 2 * * *"}}
	m.Common = common{data: data, logLevel: "warn"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatalf("open: %v\n%s", err, stderr.String())
	}
	logins := stdout.String() // read before Run writes to stdout concurrently
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		m.Close()
	}()
	for _, want := range []string{"admin", "jg_zhuren", "dept_manager", demoPassword} {
		if !strings.Contains(logins, want) {
			t.Errorf("demo logins missing %q:\n%s", want, logins)
		}
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(m.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("healthz %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Errorf("readyz %d %s", code, body)
	}
	// The metrics are on their own loopback listener, not the public port.
	if code, _ := get("/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the main port: %d, want 404", code)
	}
	metrics := func() (int, string) {
		resp, err := http.Get("http://" + m.Metrics.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := metrics()
	seq := regexp.MustCompile(`zhiliao_outbox_last_seq (\d+)`).FindStringSubmatch(body)
	if code != 200 || seq == nil {
		t.Fatalf("metrics %d: no outbox gauge", code)
	}
	if n, _ := strconv.Atoi(seq[1]); n < 1000 {
		t.Errorf("outbox after the pilot: %d events", n)
	}
	// The relay runs inside serve: the demo reaches the warehouse. The
	// leader's first close-out writes too (the pilot's past bookings become
	// no-shows on today's clock), so the relay is followed until its lag is 0
	// with the outbox's head read again each time.
	deadline := time.Now().Add(60 * time.Second)
	caughtUp := false
	for !caughtUp && time.Now().Before(deadline) {
		head, _ := m.DB.OutboxHead(ctx)
		_, body := metrics()
		caughtUp = m.Relay.Shipped() >= head && strings.Contains(body, "zhiliao_relay_lag_events 0")
		if !caughtUp {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !caughtUp {
		t.Errorf("relay lag not 0 after catching up")
	}
	var coreSessions int64
	m.DB.Reader().QueryRow("SELECT count(*) FROM treatment_session").Scan(&coreSessions)
	if n := warehousetest.Count(t, m.Warehouse, "SELECT count(*) FROM cur_session"); n != coreSessions || n == 0 {
		t.Errorf("warehouse holds %d sessions, core %d", n, coreSessions)
	}
	// The scheduler builds the marts from what the relay shipped.
	resp, err := http.Post(m.URL()+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"zhikong","password":"`+demoPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	var fresh struct {
		Items []struct {
			Mart       string `json:"mart"`
			LastStatus string `json:"last_status"`
			Behind     int64  `json:"events_behind"`
		}
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequest("GET", m.URL()+"/api/v1/etl/freshness", nil)
		req.Header.Set("Authorization", "Bearer "+login.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&fresh)
		resp.Body.Close()
		done := len(fresh.Items) > 0
		for _, f := range fresh.Items {
			done = done && f.LastStatus == "ok" && f.Behind == 0
		}
		if done {
			break
		}
	}
	if n := warehousetest.Count(t, m.Warehouse, "SELECT sum(sessions) FROM mart_workload"); n != coreSessionsCompleted(t, m) {
		t.Errorf("mart_workload has %d sessions after the scheduled run (freshness %+v)", n, fresh)
	}
	// The dashboards: a page asks for a login, the demo login opens it.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	page, err := browser.Get(m.URL() + "/dash/quality")
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.Request.URL.Path != "/dash/login" {
		t.Errorf("unauthenticated page went to %s", page.Request.URL)
	}
	page, err = browser.PostForm(m.URL()+"/dash/login", url.Values{"username": {"jg_zhuren"}, "password": {demoPassword}, "next": {"/dash/quality"}})
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || page.Request.URL.Path != "/dash/quality" || !strings.Contains(string(html), "数据质量与评级") {
		t.Errorf("dashboard after login: %d %s", page.StatusCode, page.Request.URL)
	}
	if !strings.Contains(body, `zhiliao_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
		t.Errorf("request metrics missing")
	}
	if code, body := get("/nope"); code != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("unknown route %d %s", code, body)
	}
	// The HIS sends an order over HL7 v2 / MLLP and gets an AA.
	conn, err := net.Dial("tcp", m.MLLP.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hl7 := "MSH|^~\\&|HIS|H001|ZHILIAO|H001|202611220900||ORM^O01|E2E-1|P|2.5\rPID|1||E2E-MRN^^^H001||测试^患者||19900101|F\rPV1|1|O\r" +
		"ORC|NW|E2E-RX|||||3||202611220855\rOBR|1|E2E-RX||JG001^调Q激光祛斑\rDG1|1||L81.4^黄褐斑\rZPY|Y\r"
	if err := mllp.WriteFrame(conn, []byte(hl7)); err != nil {
		t.Fatal(err)
	}
	ack, err := mllp.ReadFrame(bufio.NewReader(conn), mllp.DefaultMaxFrame)
	if err != nil || !strings.Contains(string(ack), "MSA|AA|E2E-1") {
		t.Fatalf("HL7 ack %q %v", ack, err)
	}
	var paid int
	m.DB.Reader().QueryRow("SELECT COUNT(*) FROM his_order WHERE order_no = 'E2E-RX' AND status = 'paid'").Scan(&paid)
	if paid != 1 {
		t.Fatalf("HL7 order not applied")
	}
	// The evidence pack as an export job of the quality office: a zip whose
	// manifest lists the workbooks (and, with Chromium, the screenshots as
	// zhikong sees the dashboards).
	authed := func(method, path, body string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, m.URL()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+login.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, jb := authed("POST", "/api/v1/exports?wait=60", `{"report":"evidence-pack","from":"2026-08-24","to":"2026-11-22"}`)
	var job struct{ ID, Status, Error string }
	json.Unmarshal(jb, &job)
	for deadline := time.Now().Add(120 * time.Second); job.Status != "done" && job.Status != "failed" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, jb = authed("GET", "/api/v1/exports/"+job.ID, "")
		json.Unmarshal(jb, &job)
	}
	if job.Status != "done" {
		t.Fatalf("evidence pack job: %s", jb)
	}
	resp, zipped := authed("GET", "/api/v1/exports/"+job.ID+"/file", "")
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("evidence pack download: %v %v", err, resp.Header)
	}
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	if !names["manifest.json"] || !names["workbooks/emr-0601.xlsx"] {
		t.Errorf("evidence pack holds %v", names)
	}
	if _, err := pdfprint.Browser(); err == nil && !names["screenshots/quality.png"] {
		for _, f := range zr.File {
			if f.Name == "manifest.json" {
				rc, _ := f.Open()
				man, _ := io.ReadAll(rc)
				rc.Close()
				t.Errorf("evidence pack without the dashboard screenshots: %s", man)
			}
		}
	}
	// A second --demo start on the same folder keeps the data.
	var users int
	m.DB.Reader().QueryRow("SELECT COUNT(*) FROM user_account").Scan(&users)
	if users != len(demoUsers) {
		t.Errorf("%d demo users", users)
	}
}

func TestCommandLine(t *testing.T) {
	ctx := context.Background()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Run(ctx, args, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, _, _ := run(); code != 2 {
		t.Errorf("no args: exit %d", code)
	}
	if code, _, e := run("frobnicate"); code != 2 || !strings.Contains(e, "unknown command") {
		t.Errorf("unknown command: %d %s", code, e)
	}
	// version needs no data folder and names the schema its migrations reach.
	if code, out, _ := run("version"); code != 0 || !strings.Contains(out, fmt.Sprintf("schema version %d", store.LatestSchemaVersion())) ||
		!strings.Contains(out, "commit") {
		t.Errorf("version: %d %s", code, out)
	}
	if code, _, e := run("serve", "--addr", "not-an-address", "--data", t.TempDir()); code != 2 || !strings.Contains(e, "--addr") {
		t.Errorf("bad addr: %d %s", code, e)
	}
	for _, args := range [][]string{{"--notify-webhook", "ftp://gateway"}, {"--notify-webhook", "https://gateway.example/notices"}} {
		if code, _, e := run(append([]string{"serve", "--data", t.TempDir()}, args...)...); code != 2 || !strings.Contains(e, "--notify-") {
			t.Errorf("serve %v: %d %s", args, code, e)
		}
	}
	if code, _, e := run("gen", "--preset", "huge", "--data", t.TempDir()); code != 2 || !strings.Contains(e, "pilot") {
		t.Errorf("bad preset: %d %s", code, e)
	}
	if code, _, e := run("serve", "--log-level", "loud", "--data", t.TempDir()); code != 2 || !strings.Contains(e, "log-level") {
		t.Errorf("bad log level: %d %s", code, e)
	}
	bad := filepath.Join(t.TempDir(), "defects.json")
	os.WriteFile(bad, []byte(`{"late_sign":{"min":0.3,"max":0.1}}`), 0o600)
	if code, _, e := run("gen", "--defects", bad, "--data", t.TempDir()); code != 2 || !strings.Contains(e, "late_sign") {
		t.Errorf("bad defects file: %d %s", code, e)
	}
	// ZHILIAO_* environment variables configure flags left unset.
	data := t.TempDir()
	t.Setenv("ZHILIAO_DATA", data)
	t.Setenv("ZHILIAO_LOG_LEVEL", "warn")
	if code, out, e := run("gen", "--preset", "pilot", "--seed", "3"); code != 0 || !strings.Contains(out, "generated pilot seed 3") {
		t.Fatalf("gen via env data: %d %s %s", code, out, e)
	} else if !strings.Contains(e, "day 91/91") {
		t.Errorf("no progress line: %s", e)
	}
	if code, _, e := run("gen", "--preset", "pilot"); code != 1 || !strings.Contains(e, "already holds data") {
		t.Errorf("gen into a full folder: %d %s", code, e)
	}
	// A clinical account is bound to a staff record (--staff), whose
	// department it takes; without one it is refused naming staff_id.
	if code, out, e := run("user", "add", "--username", "kf_zhuren", "--password", "S3cret-pass", "--role", "dept_manager", "--staff", "H001JG001"); code != 0 || !strings.Contains(out, "kf_zhuren") {
		t.Errorf("user add: %d %s %s", code, out, e)
	}
	if code, _, e := run("user", "add", "--username", "x1", "--password", "S3cret-pass", "--role", "dept_manager", "--dept", "JG"); code != 1 || !strings.Contains(e, "staff_id") {
		t.Errorf("dept manager without staff: %d %s", code, e)
	}
	if code, _, e := run("user", "add", "--username", "x3", "--password", "S3cret-pass", "--role", "clinician", "--staff", "H001JG001"); code != 1 || !strings.Contains(e, "staff_bound") {
		t.Errorf("a staff record bound twice: %d %s", code, e)
	}
	for _, pw := range []string{"Short-1", "alllowercase-letters", "x2-Password-1"} {
		if code, _, e := run("user", "add", "--username", "x2", "--password", pw, "--role", "admin"); code != 1 || !strings.Contains(e, "password") {
			t.Errorf("password %q: %d %s", pw, code, e)
		}
	}

	// serve --demo on a folder with data but without the demo logins (made
	// by gen) creates them; every login it prints works.
	var stdout, stderr bytes.Buffer
	m := &Main{Addr: "127.0.0.1:0", MLLPAddr: "127.0.0.1:0", Demo: true, Seed: 1, Stdout: &stdout, Stderr: &stderr,
		ETL: etlFlags{incremental: "@every 1h", full: "0 2 * * *"}}
	m.Common = common{data: data, logLevel: "warn"}
	if err := m.Open(ctx); err != nil {
		t.Fatalf("serve --demo on gen data: %v\n%s", err, stderr.String())
	}
	printed := regexp.MustCompile(`(?m)^  (\S+)\s+(\S+)`).FindAllStringSubmatch(stdout.String(), -1)
	if len(printed) != len(demoUsers) {
		t.Errorf("printed %d demo logins, want %d:\n%s", len(printed), len(demoUsers), stdout.String())
	}
	for _, p := range printed {
		if _, u, _, err := m.DB.Login(ctx, p[1], demoPassword); err != nil || u.Role != p[2] {
			t.Errorf("printed login %s (%s) does not work: %v", p[1], p[2], err)
		}
	}
	m.Close()
}

// TestCommandsRefuseMissingCore: every command but gen and serve --demo
// refuses a data folder without core.db, names the commands that make one,
// and creates nothing.
func TestCommandsRefuseMissingCore(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{"serve"}, {"relay", "--once"}, {"etl", "run"}, {"export", "dept-monthly", "--from", "2026-09-01", "--to", "2026-09-30", "--out", "x.xlsx"},
		{"user", "add", "--username", "a", "--password", "Long-enough-pw1", "--role", "admin"}, {"his", "replay"},
		{"warehouse", "rebuild"}, {"warehouse", "dead-letters"}, {"migrate"}} {
		dir := filepath.Join(t.TempDir(), "mistyped")
		var out, errb bytes.Buffer
		code := Run(ctx, append(args, "--data", dir, "--log-level", "warn"), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "no core database at "+filepath.Join(dir, "core.db")) || !strings.Contains(errb.String(), "zhiliao gen") {
			t.Errorf("%v on a folder without core.db: exit %d, %s", args, code, errb.String())
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v created %s (%v)", args, dir, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "new")
	var out, errb bytes.Buffer
	if code := Run(ctx, []string{"migrate", "--init", "--data", dir, "--log-level", "warn"}, &out, &errb); code != 0 {
		t.Errorf("migrate --init: %d %s", code, errb.String())
	}
}

// TestOutOfDateSchemaAtStartup: serve refuses a database behind the binary
// unless --migrate is given; `migrate` brings it up to date.
func TestOutOfDateSchemaAtStartup(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := store.MigrateTo(ctx, filepath.Join(data, "core.db"), 1); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Run(ctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "out of date") {
		t.Fatalf("serve on an old schema: exit %d %s", code, errb.String())
	}
	out.Reset()
	if code := Run(ctx, []string{"migrate", "--data", data, "--log-level", "warn"}, &out, &errb); code != 0 || !strings.Contains(out.String(), fmt.Sprintf("version %d", store.LatestSchemaVersion())) {
		t.Fatalf("migrate: %d %s %s", code, out.String(), errb.String())
	}
}

func coreSessionsCompleted(t *testing.T, m *Main) int64 {
	var n int64
	m.DB.Reader().QueryRow("SELECT count(*) FROM treatment_session WHERE status = 'completed'").Scan(&n)
	return n
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
