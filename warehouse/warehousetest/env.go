// Package warehousetest holds the contract suite every warehouse engine must
// pass, and the helpers that give tests a real engine: a DuckDB file in a temp
// dir, or a fresh database on the ClickHouse server named by
// ZHILIAO_TEST_CLICKHOUSE=HOST:PORT (started by scripts/clickhouse-test-server;
// .ci/run sets it, and in CI a missing server fails instead of skipping).
package warehousetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
)

// ClickHouseAddr returns the test server's HOST:PORT, skipping the test when
// none is configured locally and failing it in CI.
func ClickHouseAddr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv("ZHILIAO_TEST_CLICKHOUSE")
	if addr == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("ZHILIAO_TEST_CLICKHOUSE is not set in CI: .ci/run starts ClickHouse and sets it")
		}
		tb.Skip("no ClickHouse: run `scripts/clickhouse-test-server start /tmp/zch 19000` and set ZHILIAO_TEST_CLICKHOUSE=127.0.0.1:19000")
	}
	return addr
}

// ClickHouseDSN returns the DSN of a fresh database on the test server,
// dropped when the test ends.
func ClickHouseDSN(tb testing.TB) string {
	tb.Helper()
	addr := ClickHouseAddr(tb)
	b := make([]byte, 6)
	rand.Read(b)
	db := "zt_" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		conn, err := ch.Open(&ch.Options{Addr: []string{addr}})
		if err == nil {
			conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			conn.Close()
		}
	})
	return "clickhouse://" + addr + "/" + db
}

// Engine opens one engine for a test, again and again on the same storage.
type Engine struct {
	Name string
	Open func(tb testing.TB) warehouse.Warehouse
}

// DuckDB returns an engine on a file in a temp dir of tb.
func DuckDB(tb testing.TB) Engine {
	path := filepath.Join(tb.TempDir(), "warehouse.duckdb")
	return Engine{Name: "duckdb", Open: func(tb testing.TB) warehouse.Warehouse {
		tb.Helper()
		w, err := duckdb.Open(context.Background(), path)
		if err != nil {
			tb.Fatal(err)
		}
		return w
	}}
}

// ClickHouse returns an engine on a fresh database of the test server.
func ClickHouse(tb testing.TB) Engine {
	dsn := ClickHouseDSN(tb)
	return Engine{Name: "clickhouse", Open: func(tb testing.TB) warehouse.Warehouse {
		tb.Helper()
		w, err := clickhouse.Open(context.Background(), dsn)
		if err != nil {
			tb.Fatal(err)
		}
		return w
	}}
}

// Engines runs fn once per engine as subtests: DuckDB always, ClickHouse when
// configured.
func Engines(t *testing.T, fn func(t *testing.T, e Engine)) {
	t.Run("duckdb", func(t *testing.T) { fn(t, DuckDB(t)) })
	t.Run("clickhouse", func(t *testing.T) { fn(t, ClickHouse(t)) })
}

// Count runs a query returning one integer.
func Count(tb testing.TB, w warehouse.Warehouse, query string, args ...any) int64 {
	tb.Helper()
	rows := Rows(tb, w, query, args...)
	if len(rows) != 1 || len(rows[0]) != 1 {
		tb.Fatalf("%s: want one value, got %v", query, rows)
	}
	n, ok := rows[0][0].(int64)
	if !ok {
		tb.Fatalf("%s: got %T %v", query, rows[0][0], rows[0][0])
	}
	return n
}

// Rows runs a query and returns its rows as Go values.
func Rows(tb testing.TB, w warehouse.Warehouse, query string, args ...any) [][]any {
	tb.Helper()
	rr, err := w.Query(context.Background(), query, args...)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	rows, err := warehouse.ReadAll(rr)
	if err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return rows
}

// ClusterDSN returns the DSN of a fresh database on the test cluster
// started by scripts/clickhouse-test-cluster (ZHILIAO_TEST_CLICKHOUSE_CLUSTER,
// the DSN it prints), skipping without one locally and failing in CI. Both
// of its databases are dropped, cluster-wide, when the test ends.
func ClusterDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("ZHILIAO_TEST_CLICKHOUSE_CLUSTER")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("ZHILIAO_TEST_CLICKHOUSE_CLUSTER is not set in CI: .ci/run starts the cluster and sets it")
		}
		tb.Skip("no ClickHouse cluster: run `scripts/clickhouse-test-cluster start /tmp/zcl 29000` and set ZHILIAO_TEST_CLICKHOUSE_CLUSTER to the DSN it prints")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	db := "zt_" + hex.EncodeToString(b)
	u.Path = "/" + db
	cluster := u.Query().Get("cluster")
	tb.Cleanup(func() {
		conn, err := ch.Open(&ch.Options{Addr: strings.Split(u.Host, ",")})
		if err == nil {
			for _, d := range []string{db, db + "_local"} {
				conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+d+" ON CLUSTER "+cluster)
			}
			conn.Close()
		}
	})
	return u.String()
}

// Cluster returns an engine on a fresh database of the test cluster.
func Cluster(tb testing.TB) Engine {
	dsn := ClusterDSN(tb)
	return Engine{Name: "cluster", Open: func(tb testing.TB) warehouse.Warehouse {
		tb.Helper()
		w, err := clickhouse.OpenCluster(context.Background(), dsn)
		if err != nil {
			tb.Fatal(err)
		}
		return w
	}}
}
