package clickhouse_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// clusterHosts returns the servers of the test cluster started by
// scripts/clickhouse-test-cluster (ZHILIAO_TEST_CLICKHOUSE_CLUSTER, the DSN
// it prints), skipping locally without one and failing in CI.
func clusterHosts(t *testing.T) []string {
	dsn := os.Getenv("ZHILIAO_TEST_CLICKHOUSE_CLUSTER")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("ZHILIAO_TEST_CLICKHOUSE_CLUSTER is not set in CI: .ci/run starts the cluster and sets it")
		}
		t.Skip("no ClickHouse cluster: run `scripts/clickhouse-test-cluster start /tmp/zcl 29000` and set ZHILIAO_TEST_CLICKHOUSE_CLUSTER to the DSN it prints")
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Query().Get("cluster") != "zhiliao" {
		t.Fatalf("ZHILIAO_TEST_CLICKHOUSE_CLUSTER %q: want clickhouse://H1,H2,H3,H4/DB?cluster=zhiliao", dsn)
	}
	return strings.Split(u.Host, ",")
}

// TestClusterHarness: the harness forms the cluster the regional warehouse
// (issue 17) is built on, with ClickHouse's own distribution: DDL ON CLUSTER
// reaches all four servers; a ReplicatedReplacingMergeTree keeps both
// replicas of a shard equal; a Distributed table sharded by institution
// puts each institution on exactly one shard and reads across both.
func TestClusterHarness(t *testing.T) {
	hosts := clusterHosts(t)
	if len(hosts) != 4 {
		t.Fatalf("%d servers, want 4", len(hosts))
	}
	ctx := context.Background()
	conns := make([]ch.Conn, len(hosts))
	for i, h := range hosts {
		c, err := ch.Open(&ch.Options{Addr: []string{h}, DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	db := fmt.Sprintf("zt_cluster_%d", time.Now().UnixNano())
	exec := func(q string) {
		t.Helper()
		if err := conns[0].Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE DATABASE " + db + " ON CLUSTER zhiliao")
	defer conns[0].Exec(ctx, "DROP DATABASE IF EXISTS "+db+" ON CLUSTER zhiliao")
	exec("CREATE TABLE " + db + ".ev_local ON CLUSTER zhiliao (institution_id UInt32, seq UInt64, version UInt32) " +
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/" + db + "/ev', '{replica}', version) ORDER BY (institution_id, seq)")
	exec("CREATE TABLE " + db + ".ev ON CLUSTER zhiliao AS " + db + ".ev_local ENGINE = Distributed(zhiliao, " + db + ", ev_local, institution_id)")
	// Four institutions, 25,000 events each, written through the
	// Distributed table of one server.
	exec("INSERT INTO " + db + ".ev SELECT toUInt32(number % 4) + 1, number, 1 FROM system.numbers LIMIT 100000")

	count := func(c ch.Conn, q string) (n uint64) {
		t.Helper()
		if err := c.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	// The Distributed insert is asynchronous and replication follows it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var total uint64
		for _, c := range conns {
			total += count(c, "SELECT count() FROM "+db+".ev_local")
		}
		if total == 200000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := count(conns[3], "SELECT count() FROM "+db+".ev"); n != 100000 {
		t.Errorf("read across the shards from the last server: %d rows, want 100000", n)
	}
	shardOf := map[uint64]int{}
	for i, c := range conns {
		local := count(c, "SELECT count() FROM "+db+".ev_local")
		if i%2 == 1 {
			if prev := count(conns[i-1], "SELECT count() FROM "+db+".ev_local"); prev != local {
				t.Errorf("shard %d: replicas hold %d and %d rows", i/2+1, prev, local)
			}
			continue
		}
		rows, err := c.Query(ctx, "SELECT DISTINCT institution_id FROM "+db+".ev_local")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var inst uint32
			rows.Scan(&inst)
			if s, ok := shardOf[uint64(inst)]; ok && s != i/2 {
				t.Errorf("institution %d on two shards", inst)
			}
			shardOf[uint64(inst)] = i / 2
		}
		rows.Close()
		if local != 50000 {
			t.Errorf("shard %d holds %d rows, want 50000 (two institutions of 25,000)", i/2+1, local)
		}
	}
	if len(shardOf) != 4 {
		t.Errorf("institutions found on the shards: %v", shardOf)
	}
}
