//go:build !race

// Two serving processes and a SIGKILL: run without the race detector, like
// the other crash tests (.ci/run runs TestCrash* on their own).

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestServeProcess is not a test: TestCrashLeaderOnPostgres runs it as a
// serving process.
func TestServeProcess(t *testing.T) {
	args := os.Getenv("ZHILIAO_SERVE_ARGS")
	if args == "" {
		t.Skip("serving process for TestCrashLeaderOnPostgres")
	}
	os.Exit(Run(context.Background(), strings.Split(args, " "), io.Discard, os.Stderr))
}

// TestCrashLeaderOnPostgres: two `serve` processes on one PostgreSQL core and
// one ClickHouse warehouse while writers commit. The one running the relay
// is killed with SIGKILL mid-run; the other takes the relay over, and the
// warehouse ends up with every committed event exactly once.
func TestCrashLeaderOnPostgres(t *testing.T) {
	dsn := testpg.Core(t)
	wh := warehousetest.ClickHouseDSN(t)
	ctx := context.Background()
	core, err := store.Open(ctx, dsn, store.Options{FilesDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	inst := &model.Institution{Code: "H1", Name: "双实例医院", Level: "三级甲等"}
	if err := core.CreateInstitution(ctx, inst); err != nil {
		t.Fatal(err)
	}

	type proc struct {
		cmd     *exec.Cmd
		leading atomic.Bool
		log     strings.Builder
		mu      sync.Mutex
	}
	start := func() *proc {
		p := &proc{cmd: exec.Command(os.Args[0], "-test.run=^TestServeProcess$")}
		p.cmd.Env = append(os.Environ(), "ZHILIAO_SERVE_ARGS="+strings.Join([]string{"serve", "--core", dsn, "--warehouse", wh,
			"--data", t.TempDir(), "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--relay-flush", "20ms", "--log-level", "info"}, " "))
		stderr, err := p.cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
		go func() {
			lines := bufio.NewScanner(stderr)
			for lines.Scan() {
				p.mu.Lock()
				p.log.WriteString(lines.Text() + "\n")
				p.mu.Unlock()
				if strings.Contains(lines.Text(), "leading") {
					p.leading.Store(true)
				}
			}
		}()
		return p
	}
	logOf := func(p *proc) string { p.mu.Lock(); defer p.mu.Unlock(); return p.log.String() }

	a := start()
	waitFor(t, "the first process to lead", a.leading.Load)
	b := start()
	waitFor(t, "the second process to serve", func() bool { return strings.Contains(logOf(b), "serving") })
	time.Sleep(2 * time.Second) // it asks for the lock every second meanwhile
	if b.leading.Load() {
		t.Fatalf("both processes lead:\n%s", logOf(b))
	}

	// Writers commit throughout; the leader dies in the middle.
	var wrote atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := &model.Patient{MRN: fmt.Sprintf("K%d-%d", g, i), Name: "崩溃测试患者", Gender: "U"}
				p.InstitutionID = inst.ID
				if err := core.CreatePatient(ctx, p); err != nil {
					t.Error(err)
					return
				}
				wrote.Add(1)
			}
		}()
	}
	waitFor(t, "writes before the kill", func() bool { return wrote.Load() > 300 })
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for deadline := time.Now().Add(30 * time.Second); !b.leading.Load(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("no takeover 30 s after SIGKILL of the leader; the other process logged:\n%s", logOf(b))
		}
	}
	t.Logf("took over %.1f s after SIGKILL", time.Since(killed).Seconds())
	waitFor(t, "writes after the takeover", func() bool { return wrote.Load() > 900 })
	close(stop)
	wg.Wait()

	head, err := core.OutboxHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the relay to ship everything", func() bool {
		cp, err := core.Checkpoint(ctx)
		return err == nil && cp.Seq >= head
	})
	distinct := warehousetest.Count(t, whOpen(t, wh), "SELECT count() FROM (SELECT DISTINCT seq FROM cdc_events)")
	rows := warehousetest.Count(t, whOpen(t, wh), "SELECT count() FROM cdc_events FINAL")
	patients := warehousetest.Count(t, whOpen(t, wh), "SELECT count() FROM cur_patient")
	if distinct != head || rows != head || patients != wrote.Load() {
		t.Errorf("warehouse: %d distinct events, %d rows, %d patients; outbox head %d, patients written %d\n%s",
			distinct, rows, patients, head, wrote.Load(), logOf(b))
	}
}

// whOpen opens the test's ClickHouse warehouse for reading.
func whOpen(t *testing.T, dsn string) *clickhouse.Warehouse {
	t.Helper()
	w, err := clickhouse.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}
