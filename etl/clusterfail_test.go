//go:build !race

// The cluster's failure tests kill and restart servers of a private 2 × 2
// cluster of their own, so that no other test shares it; .ci/run runs them
// in the step of the crash tests, without the race detector.

package etl_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// privateCluster starts ZooKeeper and four servers of its own under a temp
// dir; the machine must be able to (the shared test cluster's env var says
// so), else the test skips locally.
type privateCluster struct {
	t   *testing.T
	dir string
	dsn string
}

func startPrivateCluster(t *testing.T) *privateCluster {
	warehousetest.ClusterDSN(t) // skips, or fails in CI, without a cluster on this machine
	dir := t.TempDir()
	base := warehousetest.FreePorts(t, 43) // ZooKeeper on base, servers on base+10 … base+42
	out, err := script("../scripts/clickhouse-test-cluster", "start", dir, fmt.Sprint(base))
	t.Cleanup(func() { script("../scripts/clickhouse-test-cluster", "stop", dir) })
	if err != nil {
		t.Fatalf("start the cluster: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return &privateCluster{t: t, dir: dir, dsn: lines[len(lines)-1]}
}

// script runs one of the project's server scripts with a deadline, so a
// script that hangs (once in CI: a start that never returned) fails the test
// in minutes with its output instead of using up the whole test timeout.
// WaitDelay: a child left holding the output pipe cannot keep us waiting.
func script(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: no answer within 3 minutes: %w", name, strings.Join(args, " "), err)
	}
	return out, err
}

// kill9 kills server i (0–3; shard i/2+1) without warning.
func (c *privateCluster) kill9(i int) {
	c.t.Helper()
	exec.Command("pkill", "-9", "-f", "--", "--config-file="+filepath.Join(c.dir, fmt.Sprintf("s%d", i), "config.xml")).Run()
	for n := 0; n < 100; n++ {
		if exec.Command("pgrep", "-f", "--", "--config-file="+filepath.Join(c.dir, fmt.Sprintf("s%d", i), "config.xml")).Run() != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("server %d still runs", i)
}

// restart starts server i again on its data.
func (c *privateCluster) restart(i int) {
	c.t.Helper()
	dir := filepath.Join(c.dir, fmt.Sprintf("s%d", i))
	port, err := os.ReadFile(filepath.Join(dir, "port"))
	if err != nil {
		c.t.Fatal(err)
	}
	// A replica killed between writing a part and recording it in
	// ZooKeeper keeps a part the shard never had (its insert failed, and
	// the relay sent it again through the other replica); with too many
	// such parts the server refuses to start the table. force_restore_data
	// is ClickHouse's own answer: set them aside, fetch the shard's parts.
	flags := filepath.Join(dir, "data", "flags")
	if err := os.MkdirAll(flags, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flags, "force_restore_data"), nil, 0o644); err != nil {
		c.t.Fatal(err)
	}
	if out, err := script("../scripts/clickhouse-test-server", "start", dir, strings.TrimSpace(string(port))); err != nil {
		c.t.Fatalf("restart server %d: %v\n%s", i, err, out)
	}
}

// TestCrashClusterFailures: on a 2 × 2 cluster fed by three hospitals'
// cores (hospital 2 on shard 1; hospitals 5 and 9 on shard 2),
//   - a replica killed with kill -9 while the cores relay and while the
//     marts are built loses nothing: after it restarts and catches up, each
//     institution holds exactly its outbox on both replicas, and the marts
//     equal each hospital's alone;
//   - a whole shard down: reads that need it answer unavailable, naming
//     hospitals 5 and 9, never partial totals; a read of hospital 2 alone
//     still answers; hospital 2's relay goes on while hospital 5's waits,
//     and finishes once the shard is back;
//   - the marts, built incrementally through all of it, equal each
//     hospital's alone;
//   - ZooKeeper down: writes wait and retry, reads go on (zooKeeperDown).
func TestCrashClusterFailures(t *testing.T) {
	pc := startPrivateCluster(t)
	ctx := context.Background()
	numbers := []int64{2, 5, 9}
	cores, alone := region(t, numbers)
	cl, err := clickhouse.OpenCluster(ctx, pc.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The marts' tables exist before anything fails (a table made while a
	// server is down waits for the DDL queue's timeout).
	r := &etl.Runner{Warehouse: cl, Logger: quiet}
	if _, err := r.Run(ctx, etl.Options{Full: true}); err != nil {
		t.Fatal(err)
	}
	relay := func(n int64) *cdc.Relay {
		return &cdc.Relay{Core: cores[n], Warehouse: cl, BatchSize: 500, Logger: quiet, MaxBackoff: 200 * time.Millisecond}
	}
	heads := map[int64]int64{}
	for _, n := range numbers {
		heads[n], _ = cores[n].OutboxHead(ctx)
	}
	half := func(n int64) int64 { return (heads[n] + model.NamespaceBase(n)) / 2 }

	// The first half of each outbox, a replica of each shard killed while
	// all three relay; the marts built with those replicas still down.
	errs := make(chan error, len(numbers))
	for _, n := range numbers {
		go func() { errs <- relay(n).DrainTo(ctx, half(n)) }()
	}
	time.Sleep(300 * time.Millisecond)
	pc.kill9(2) // shard 2's first replica, where its writes go
	pc.kill9(1) // shard 1's second replica
	for range numbers {
		if err := <-errs; err != nil {
			t.Fatalf("relay with a replica down: %v", err)
		}
	}
	// Shard 1's marts build on its live replica. Shard 2's live replica may
	// lack parts its dead partner acknowledged and had not yet passed on:
	// then its marts wait, saying so, and keep their last good rows.
	if _, err := r.Run(ctx, etl.Options{Job: "incremental"}); err != nil &&
		(!strings.Contains(err.Error(), "shard 2: replica of shard") || strings.Contains(err.Error(), "shard 1:")) {
		t.Fatalf("marts with a replica of each shard down: %v", err)
	}
	pc.restart(2)
	pc.restart(1)
	dims, err := r.Dimensions(ctx) // the API reads them on every request
	if err != nil {
		t.Fatal(err)
	}
	only2 := etl.Query{From: "2026-08-24", To: "2026-11-22", Grain: "all", Measures: []string{"sessions"}, Ints: map[string][]int64{}}
	for _, d := range dims.Departments {
		if model.NamespaceOf(d.ID) == 2 {
			only2.Ints["dept_id"] = append(only2.Ints["dept_id"], d.ID)
		}
	}
	before, err := readMart(ctx, r, only2)
	if err != nil || len(before) != 1 {
		t.Fatalf("hospital 2: %v %v", before, err)
	}

	// A whole shard down: shard 2, hospitals 5 and 9.
	pc.kill9(2)
	pc.kill9(3)
	_, err = readMart(ctx, r, etl.Query{From: "2026-08-24", To: "2026-11-22", Grain: "all", Measures: []string{"sessions"}})
	if model.ErrorCode(err) != model.EUNAVAILABLE || model.ErrorRule(err) != etl.RuleShardUnavailable ||
		!strings.Contains(model.ErrorMessage(err), "示例省第五人民医院") || !strings.Contains(model.ErrorMessage(err), "示例省第九人民医院") ||
		strings.Contains(model.ErrorMessage(err), "示例省第二人民医院") {
		t.Errorf("a read of the whole region with shard 2 down: %v", err)
	}
	if rows, err := readMart(ctx, r, only2); err != nil || len(rows) != 1 || rows[0][0] != before[0][0] {
		t.Errorf("hospital 2 alone with shard 2 down: %v %v, before %v", rows, err, before)
	}
	// Hospital 2's relay goes on; hospital 5's waits and retries.
	if err := relay(2).Drain(ctx); err != nil {
		t.Fatalf("hospital 2's relay with shard 2 down: %v", err)
	}
	waiting, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- relay(5).Run(waiting) }()
	time.Sleep(1500 * time.Millisecond)
	if hw, err := warehouse.HighWater(ctx, cl, 2); err != nil || hw != heads[2] {
		t.Errorf("hospital 2 shipped to %d (%v), its head is %d", hw, err, heads[2])
	}
	pc.restart(2)
	pc.restart(3)
	for try := 0; try < 300; try++ {
		if hw, _ := warehouse.HighWater(ctx, cl, 5); hw == heads[5] {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("hospital 5's relay through the outage: %v", err)
	}
	if hw, _ := warehouse.HighWater(ctx, cl, 5); hw != heads[5] {
		t.Errorf("hospital 5 shipped to %d after shard 2 came back, its head is %d", hw, heads[5])
	}
	if err := relay(9).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// As the schedule does: a run that finds a replica still fetching is
	// tried again.
	for try := 0; ; try++ {
		_, err := r.Run(ctx, etl.Options{Job: "incremental"})
		if err == nil {
			break
		}
		if try == 4 {
			t.Fatalf("marts after the outages: %v", err)
		}
	}

	// Every server holds exactly its shard's outboxes, once each.
	for i, addr := range []string{"s0", "s1", "s2", "s3"} {
		port, _ := os.ReadFile(filepath.Join(pc.dir, addr, "port"))
		one, err := clickhouse.Open(ctx, fmt.Sprintf("clickhouse://127.0.0.1:%s/zhiliao_local", strings.TrimSpace(string(port))))
		if err != nil {
			t.Fatal(err)
		}
		var got map[int64]int64
		for try := 0; try < 300; try++ {
			got = map[int64]int64{}
			for _, row := range warehousetest.Rows(t, one, fmt.Sprintf("SELECT intDiv(seq, %d) AS ns, toInt64(count()) FROM cdc_events FINAL GROUP BY ns", model.NamespaceBase(1))) {
				got[row[0].(int64)] = row[1].(int64)
			}
			if caughtUp(got, heads, i/2) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !caughtUp(got, heads, i/2) {
			t.Errorf("server %s (shard %d) holds events %v", addr, i/2+1, got)
		}
		one.Close()
	}
	// And the marts, built through all of it, equal each hospital's alone.
	for _, m := range etl.Marts {
		byHospital := map[int64][]string{}
		for _, line := range dump(t, cl, m) {
			var dept int64
			fmt.Sscan(strings.Split(line, "|")[1], &dept)
			byHospital[model.NamespaceOf(dept)] = append(byHospital[model.NamespaceOf(dept)], line)
		}
		for _, n := range numbers {
			if !slices.Equal(byHospital[n], alone[n][m.Name]) {
				t.Errorf("%s of hospital %d after the outages: %d rows, %d alone\n%s", m.Name, n, len(byHospital[n]), len(alone[n][m.Name]), diff(byHospital[n], alone[n][m.Name]))
			}
		}
	}
	zooKeeperDown(t, ctx, pc, cl, r, cores[2], only2, func() *cdc.Relay { return relay(2) })
}

// zooKeeperDown: with ZooKeeper gone the replicated tables turn read-only:
// a relay's writes wait and retry (nothing shipped, nothing lost) while
// reads go on with the same answer; once ZooKeeper is back the relay
// finishes by itself.
func zooKeeperDown(t *testing.T, ctx context.Context, pc *privateCluster, cl warehouse.Warehouse, r *etl.Runner, core *store.DB, only2 etl.Query, relay func() *cdc.Relay) {
	before, err := readMart(ctx, r, only2)
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := warehouse.HighWater(ctx, cl, 2)
	if err != nil {
		t.Fatal(err)
	}
	pc.zk("zk-kill")
	// New events in hospital 2's core while ZooKeeper is down.
	insts, err := core.Institutions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d := &model.Department{Code: fmt.Sprintf("ZK%d", i), Name: fmt.Sprintf("新科室%d", i)}
		d.InstitutionID = insts[0].ID
		if err := core.CreateDepartment(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := core.OutboxHead(ctx)
	done := make(chan error, 1)
	go func() { done <- relay().DrainTo(ctx, head) }()
	select {
	case err := <-done:
		t.Fatalf("the relay returned while ZooKeeper was down: %v", err)
	case <-time.After(3 * time.Second):
	}
	if hw, err := warehouse.HighWater(ctx, cl, 2); err != nil || hw != shipped {
		t.Errorf("shipped to %d (%v) while ZooKeeper was down; before %d", hw, err, shipped)
	}
	if rows, err := readMart(ctx, r, only2); err != nil || len(rows) != 1 || rows[0][0] != before[0][0] {
		t.Errorf("a read with ZooKeeper down: %v %v, before %v", rows, err, before)
	}
	pc.zk("zk-start")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the relay after ZooKeeper came back: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the relay did not finish within 2 minutes of ZooKeeper's return")
	}
	if hw, err := warehouse.HighWater(ctx, cl, 2); err != nil || hw != head {
		t.Errorf("shipped to %d (%v) after ZooKeeper came back; head %d", hw, err, head)
	}
}

// zk runs the cluster script's ZooKeeper command (zk-kill, zk-start).
func (c *privateCluster) zk(cmd string) {
	c.t.Helper()
	if out, err := script("../scripts/clickhouse-test-cluster", cmd, c.dir); err != nil {
		c.t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

// caughtUp: a server of shard (0-based) holds each of its namespaces' whole
// outbox and nothing of the other shard's.
func caughtUp(got, heads map[int64]int64, shard int) bool {
	for ns, head := range heads {
		want := int64(0)
		if int(ns%2) == shard {
			want = head - model.NamespaceBase(ns)
		}
		if got[ns] != want {
			return false
		}
	}
	return true
}

// readMart reads a workload query whole: a shard's refusal can arrive after
// the rows of the shards that answered.
func readMart(ctx context.Context, r *etl.Runner, q etl.Query) ([][]any, error) {
	rr, err := r.Query(ctx, etl.MartByName("workload"), q)
	if err != nil {
		return nil, err
	}
	return warehouse.ReadAll(rr)
}
