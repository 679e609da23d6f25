package warehouse

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema step of an engine, from an embedded file
// NNNNN_name.sql whose statements end with a semicolon at the end of a line.
//
// The runner is written here rather than taken from goose (which the core
// uses): goose drives a database/sql handle inside transactions, and
// clickhouse-go turns statements prepared in a transaction into batch
// INSERTs, while its ClickHouse version table uses DDL 18.16 does not accept.
// Both engines need only "apply the files not yet applied, in order".
type Migration struct {
	Version    int64
	Name       string
	Statements []string
}

// LoadMigrations reads the migrations of dir in fsys, ordered by version.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), Statements: SplitStatements(string(body))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// SplitStatements splits SQL text at semicolons that end a line, dropping
// comment lines.
func SplitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(body, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// Migrator is what an engine gives the migration runner.
type Migrator interface {
	// AppliedVersions creates the version table if needed and lists what it holds.
	AppliedVersions(ctx context.Context) (map[int64]bool, error)
	Exec(ctx context.Context, query string, args ...any) error
	// RecordVersion notes that migration v was applied.
	RecordVersion(ctx context.Context, v int64) error
}

// Migrate applies the migrations m does not hold yet, in order, and returns
// how many it applied.
func Migrate(ctx context.Context, m Migrator, migrations []Migration) (int, error) {
	applied, err := m.AppliedVersions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, mig := range migrations {
		if applied[mig.Version] {
			continue
		}
		for _, stmt := range mig.Statements {
			if err := m.Exec(ctx, stmt); err != nil {
				return n, fmt.Errorf("warehouse migration %s: %w", mig.Name, err)
			}
		}
		if err := m.RecordVersion(ctx, mig.Version); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
