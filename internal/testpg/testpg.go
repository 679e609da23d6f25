// Package testpg gives tests a fresh PostgreSQL core database on the server
// named by ZHILIAO_TEST_POSTGRES (a postgres:// DSN of a role that may create
// databases; scripts/postgres-test-server starts one and .ci/run sets it). In
// CI a missing server fails instead of skipping.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/zhiliao/zhiliao/store"
)

// ServerDSN returns the test server's DSN, skipping the test when none is
// configured locally and failing it in CI.
func ServerDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("ZHILIAO_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("ZHILIAO_TEST_POSTGRES is not set in CI: .ci/run starts PostgreSQL and sets it")
		}
		tb.Skip("no PostgreSQL: run `scripts/postgres-test-server start /tmp/zpg 15432` and set " +
			"ZHILIAO_TEST_POSTGRES=postgres://postgres@127.0.0.1:15432/postgres?sslmode=disable")
	}
	return dsn
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// Core returns the DSN of a new database holding the migrated core schema,
// dropped when the test ends. The schema is migrated once per test binary
// into a template database and copied from it, which takes a few
// milliseconds instead of a migration each.
func Core(tb testing.TB) string {
	tb.Helper()
	server := ServerDSN(tb)
	admin, err := sql.Open("pgx", server)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	templateOnce.Do(func() {
		templateName = "zt_tmpl_" + suffix()
		if _, templateErr = admin.ExecContext(ctx, "CREATE DATABASE "+templateName); templateErr != nil {
			return
		}
		var db *store.DB
		if db, templateErr = store.Open(ctx, withDatabase(server, templateName), store.Options{}); templateErr == nil {
			templateErr = db.Close()
		}
	})
	if templateErr != nil {
		tb.Fatalf("template core database: %v", templateErr)
	}
	name := "zt_" + suffix()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE "+templateName); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		a, err := sql.Open("pgx", server)
		if err != nil {
			return
		}
		defer a.Close()
		a.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDatabase(server, name)
}

func suffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// withDatabase returns dsn pointing at database name.
func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}
