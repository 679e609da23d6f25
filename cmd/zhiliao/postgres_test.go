package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/vault"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestTwoInstancesOnPostgres: two serve processes' worth of service on one
// PostgreSQL core and one ClickHouse warehouse. Both serve the API; only
// one runs the relay and the schedules (zhiliao_leader says which). When it
// stops, the other takes the duties over and ships what was written through
// either, each event once.
func TestTwoInstancesOnPostgres(t *testing.T) {
	core := testpg.Core(t)
	wh := warehousetest.ClickHouseDSN(t)
	ctx := context.Background()
	// Instances of one core share its master key, made once beforehand
	// (zhiliao keys init --key-file), as the README says.
	key := filepath.Join(t.TempDir(), "master.key")
	if err := vault.CreateMasterFile(key); err != nil {
		t.Fatal(err)
	}
	start := func(name string, demo bool) (*Main, context.CancelFunc, chan error) {
		var stdout, stderr bytes.Buffer
		m := &Main{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", Demo: demo, Seed: 1, Stdout: &stdout, Stderr: &stderr,
			ETL: etlFlags{incremental: "@every 1s", full: "0 2 * * *"}, WH: whFlags{dsn: wh}}
		m.Common = common{data: t.TempDir(), core: core, logLevel: "warn", keyFile: key}
		mctx, cancel := context.WithCancel(ctx)
		if err := m.Open(mctx); err != nil {
			t.Fatalf("open %s: %v\n%s", name, err, stderr.String())
		}
		done := make(chan error, 1)
		go func() { done <- m.Run(mctx) }()
		t.Cleanup(func() { cancel(); <-done; m.Close() })
		return m, cancel, done
	}
	a, stopA, doneA := start("a", true) // generates the pilot into the core
	b, _, _ := start("b", false)
	waitFor(t, "instance a to lead", func() bool { return a.leading.Load() == 1 })
	time.Sleep(2 * time.Second) // b keeps asking for the lock meanwhile
	if b.leading.Load() != 0 {
		t.Fatal("both instances lead")
	}
	if got := leaderGauge(t, b); got != "0" {
		t.Errorf("zhiliao_leader of b: %s", got)
	}
	// Both serve the API on the same core.
	for _, m := range []*Main{a, b} {
		resp, err := http.Get(m.URL() + "/readyz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("readyz %v %v", resp, err)
		}
		resp.Body.Close()
	}
	insts, err := b.DB.Institutions(ctx)
	if err != nil || len(insts) != 1 {
		t.Fatal(insts, err)
	}
	for i := range 20 {
		p := &model.Patient{MRN: fmt.Sprintf("TWO-%d", i), Name: "双实例患者", Gender: "U"}
		p.InstitutionID = insts[0].ID
		if err := b.DB.CreatePatient(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	doneA <- nil // for the cleanup
	waitFor(t, "instance b to take the duties over", func() bool { return b.leading.Load() == 1 })
	head, err := b.DB.OutboxHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b's relay to ship the outbox", func() bool {
		cp, err := b.DB.Checkpoint(ctx)
		return err == nil && cp.Seq >= head
	})
	shipped := warehousetest.Count(t, b.Warehouse, "SELECT count() FROM (SELECT DISTINCT seq FROM cdc_events)")
	all := warehousetest.Count(t, b.Warehouse, "SELECT count() FROM cdc_events FINAL")
	if shipped != head || all != head {
		t.Errorf("warehouse: %d distinct events, %d rows; outbox head %d", shipped, all, head)
	}
	if n := warehousetest.Count(t, b.Warehouse, "SELECT count() FROM cur_patient WHERE mrn LIKE 'TWO-%'"); n != 20 {
		t.Errorf("patients written through b: %d in the warehouse", n)
	}
	if got := leaderGauge(t, b); got != "1" {
		t.Errorf("zhiliao_leader of b after the takeover: %s", got)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 60 s for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func leaderGauge(t *testing.T, m *Main) string {
	resp, err := http.Get("http://" + m.Metrics.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "zhiliao_leader "); ok {
			return v
		}
	}
	return "missing"
}

// TestUnreachableCore: a PostgreSQL core that does not answer stops a
// command with an error naming the server without its password.
func TestUnreachableCore(t *testing.T) {
	code, out, stderr := run(t, "relay", "--once", "--data", t.TempDir(), "--log-level", "error",
		"--core", "postgres://zhiliao:s3cret-pw@127.0.0.1:1/zhiliao?sslmode=disable&connect_timeout=2")
	if code == 0 || !strings.Contains(stderr, "核心库无法连接") || !strings.Contains(stderr, "127.0.0.1:1") ||
		strings.Contains(stderr+out, "s3cret-pw") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestMigrateOnPostgres: migrate brings a PostgreSQL core to the latest of
// its own migrations; --to, which stages a SQLite upgrade, is refused rather
// than applied to a SQLite file the command was not asked about.
func TestMigrateOnPostgres(t *testing.T) {
	core := testpg.Core(t)
	data := t.TempDir()
	code, out, stderr := run(t, "migrate", "--core", core, "--data", data, "--log-level", "error")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("version %d", store.LatestSchemaVersionOf("postgres"))) {
		t.Errorf("migrate: %d %q %q", code, out, stderr)
	}
	if code, _, stderr := run(t, "migrate", "--to", "2", "--core", core, "--data", data, "--log-level", "error"); code == 0 ||
		!strings.Contains(stderr, "PostgreSQL") {
		t.Errorf("migrate --to on PostgreSQL: %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "core.db")); err == nil {
		t.Error("a SQLite core.db was made beside a PostgreSQL core")
	}
}
