// Package duckdb is the embedded warehouse: one DuckDB file under the data
// folder (github.com/duckdb/duckdb-go/v2). Batches land in one transaction,
// so a batch is all there or not at all; appending one again first deletes its
// seq range, so the effect of a repeated delivery is nil.
package duckdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
	"github.com/zhiliao/zhiliao/warehouse"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Warehouse is the DuckDB engine.
type Warehouse struct {
	Path string
	db   *sql.DB
	id   string
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// Open opens (creating if needed) the warehouse file at path, applies its
// migrations and brings the raw tables in line with the model.
func Open(ctx context.Context, path string) (*Warehouse, error) {
	db, err := sql.Open("duckdb", path+"?checkpoint_threshold=256MB")
	if err != nil {
		return nil, lockError(path, err)
	}
	w := &Warehouse{Path: path, db: db}
	if err := w.init(ctx); err != nil {
		db.Close()
		return nil, lockError(path, err)
	}
	return w, nil
}

// lockError turns DuckDB's lock conflict (one writing process per file)
// into ErrLocked, which says what to do about it.
func lockError(path string, err error) error {
	if strings.Contains(err.Error(), "Could not set lock on file") || strings.Contains(err.Error(), "Conflicting lock") {
		return fmt.Errorf("%s: %w", path, warehouse.ErrLocked)
	}
	return err
}

func (w *Warehouse) init(ctx context.Context) error {
	migs, err := warehouse.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return err
	}
	if _, err := warehouse.Migrate(ctx, w, migs); err != nil {
		return err
	}
	if err := w.EnsureRaw(ctx); err != nil {
		return err
	}
	w.id, err = w.ensureID(ctx)
	return err
}

func (w *Warehouse) ensureID(ctx context.Context) (string, error) {
	var id string
	err := w.db.QueryRowContext(ctx, "SELECT value FROM warehouse_meta WHERE key = 'warehouse_id'").Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	id = "duckdb-" + newID()
	_, err = w.db.ExecContext(ctx, "INSERT INTO warehouse_meta VALUES ('warehouse_id', ?)", id)
	return id, err
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (w *Warehouse) Engine() string { return "duckdb" }

// SQL implements warehouse.Warehouse.
func (w *Warehouse) SQL() policy.SQL { return SQL }

// SQL spells policy's masks in DuckDB's RE2 functions (length counts
// characters; regexp_replace without 'g' replaces the first match).
var SQL = policy.RegexpSQL{
	Length:     func(a ...string) string { return "CAST(length(" + a[0] + ") AS BIGINT)" },
	Extract:    func(a ...string) string { return "regexp_extract(" + strings.Join(a, ", ") + ")" },
	ReplaceOne: func(a ...string) string { return "regexp_replace(" + strings.Join(a, ", ") + ")" },
	ReplaceAll: func(a ...string) string { return "regexp_replace(" + strings.Join(a, ", ") + ", 'g')" },
	Join:       func(a ...string) string { return "concat(" + strings.Join(a, ", ") + ")" },
}

func (w *Warehouse) ID() string   { return w.id }
func (w *Warehouse) Close() error { return w.db.Close() }

// AppliedVersions implements warehouse.Migrator.
func (w *Warehouse) AppliedVersions(ctx context.Context) (map[int64]bool, error) {
	if _, err := w.db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"); err != nil {
		return nil, err
	}
	rows, err := w.db.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[v] = true
	}
	return out, rows.Err()
}

// RecordVersion implements warehouse.Migrator.
func (w *Warehouse) RecordVersion(ctx context.Context, v int64) error {
	_, err := w.db.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (?, ?)", v, time.Now().UTC())
	return err
}

// Exec runs a statement.
func (w *Warehouse) Exec(ctx context.Context, query string, args ...any) error {
	_, err := w.db.ExecContext(ctx, query, args...)
	return err
}

// ExecAtomic implements warehouse.Warehouse: one transaction on one
// connection, rolled back on the first error.
func (w *Warehouse) ExecAtomic(ctx context.Context, stmts ...string) error {
	return w.inTx(ctx, func(conn *sql.Conn) error {
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// inTx runs fn in a transaction on one connection (DuckDB's appender writes
// into the connection's open transaction), rolled back if fn fails.
func (w *Warehouse) inTx(ctx context.Context, fn func(conn *sql.Conn) error) (err error) {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	if err = fn(conn); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	if err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
	}
	return err
}

func sqlType(k model.FieldKind) string {
	switch k {
	case model.KindInt, model.KindNullInt:
		return "BIGINT"
	case model.KindString:
		return "VARCHAR"
	case model.KindBool:
		return "BOOLEAN"
	default:
		return "TIMESTAMP"
	}
}

// EnsureRaw brings the raw tables and their views in line with the model.
func (w *Warehouse) EnsureRaw(ctx context.Context) error {
	return warehouse.SyncRaw(ctx, w, "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name LIKE 'raw_%'", dialect{})
}

// dialect spells the raw layer in DuckDB.
type dialect struct{}

func (dialect) CreateTable(t *warehouse.Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		null := " NOT NULL"
		if c.Kind.Nullable() {
			null = ""
		}
		cols[i] = c.Name + " " + sqlType(c.Kind) + null
	}
	return fmt.Sprintf("CREATE TABLE %s (%s)", t.Name, strings.Join(cols, ", "))
}

func (dialect) AddColumn(t *warehouse.Table, c warehouse.Column) []string {
	return []string{
		fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", t.Name, c.Name, sqlType(c.Kind)),
		fmt.Sprintf("ALTER TABLE IF EXISTS %s ADD COLUMN IF NOT EXISTS %s %s", t.Current, c.Name, sqlType(c.Kind)),
	}
}

// Views: a batch lands whole or not at all, so raw_ holds each version
// once. cur_ is a table that every append keeps current (see refreshCurrent),
// so that marts reading a few days scan those days' rows, not every version
// of every row; it is filled from raw_ when it is first created.
func (dialect) Views(t *warehouse.Table) []string {
	return []string{
		fmt.Sprintf("CREATE OR REPLACE VIEW ver_%s AS SELECT * FROM %s", t.Entity, t.Name),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS %s", t.Current, latestOf(t, "1 = 1")),
	}
}

// latestOf selects the latest version of each live id among the rows of
// t's ids that match where.
func latestOf(t *warehouse.Table, where string) string {
	return fmt.Sprintf(`SELECT * FROM (SELECT * FROM %s WHERE %s
QUALIFY row_number() OVER (PARTITION BY institution_id, id ORDER BY version DESC) = 1) WHERE _op <> 'd'`, t.Name, where)
}

// refreshCurrent brings cur_ up to date for the ids a batch touched, in the
// batch's transaction: the ids of its seq range, or for a snapshot batch
// (all seq 0) the id range of its rows. A batch beyond every seq the
// warehouse held (fresh: not a redelivery) carries the newest version of
// each id it touches, since the core numbers an id's versions in commit
// order: its current rows are picked from the batch's own rows in Go and
// appended (a window over the batch in SQL cost 6 µs a row, most of the
// append). A redelivery or a snapshot looks at every stored version of
// those ids.
func refreshCurrent(ctx context.Context, conn *sql.Conn, t *warehouse.Table, b *warehouse.Batch, rec arrow.Record, fresh bool) error {
	touched := fmt.Sprintf("id IN (SELECT id FROM %s WHERE _seq BETWEEN %d AND %d)", t.Name, b.FirstSeq, b.LastSeq)
	if b.Snapshot && b.LastSeq == 0 {
		ids := rec.Column(t.FieldIndex["id"]).(*array.Int64).Int64Values()
		lo, hi := slices.Min(ids), slices.Max(ids)
		touched = fmt.Sprintf("id IN (SELECT id FROM %s WHERE _seq = 0 AND id BETWEEN %d AND %d)", t.Name, lo, hi)
		fresh = false
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM "+t.Current+" WHERE "+touched); err != nil {
		return err
	}
	if fresh {
		return appendRows(conn, t.Current, rec, latestRows(t, rec))
	}
	_, err := conn.ExecContext(ctx, "INSERT INTO "+t.Current+" "+latestOf(t, touched))
	return err
}

// latestRows are the rows of rec that hold the highest version of their
// (institution, id) in it, in row order, leaving out ids whose highest
// version is a delete.
func latestRows(t *warehouse.Table, rec arrow.Record) []int {
	inst := rec.Column(t.FieldIndex["institution_id"]).(*array.Int64).Int64Values()
	ids := rec.Column(t.FieldIndex["id"]).(*array.Int64).Int64Values()
	vers := rec.Column(t.FieldIndex["version"]).(*array.Int64).Int64Values()
	best := make(map[[2]int64]int, len(ids))
	for i := range ids {
		k := [2]int64{inst[i], ids[i]}
		if j, ok := best[k]; !ok || vers[i] > vers[j] {
			best[k] = i
		}
	}
	ops := rec.Column(1).(*array.String) // _op
	rows := make([]int, 0, len(best))
	for _, i := range best {
		if ops.Value(i) != model.OpDelete {
			rows = append(rows, i)
		}
	}
	slices.Sort(rows)
	return rows
}

// HighWaters implements warehouse.Warehouse.
func (w *Warehouse) HighWaters(ctx context.Context) (map[int64]int64, error) {
	rows, err := w.db.QueryContext(ctx, fmt.Sprintf("SELECT last_seq >> %d AS ns, max(last_seq) FROM cdc_batches GROUP BY ns", model.NamespaceBits))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return warehouse.ScanHighWaters(rows)
}

// Append implements warehouse.Warehouse: one transaction per batch.
func (w *Warehouse) Append(ctx context.Context, b *warehouse.Batch) error {
	return w.inTx(ctx, func(conn *sql.Conn) error { return appendBatch(ctx, conn, b) })
}

func appendBatch(ctx context.Context, conn *sql.Conn, b *warehouse.Batch) error {
	exec := func(q string, args ...any) error {
		_, err := conn.ExecContext(ctx, q, args...)
		return err
	}
	// Rows of this range can exist only after an earlier delivery of it; the
	// deletes that clear them would scan every raw table once per batch, so
	// they run only when the highest seq already held reaches the range.
	var held sql.NullInt64
	if !b.Snapshot {
		parts := []string{"SELECT max(seq) AS s FROM cdc_events", "SELECT max(seq) FROM cdc_dead_letters"}
		for entity := range b.Raw {
			parts = append(parts, "SELECT max(_seq) FROM "+warehouse.TableOf(entity).Name)
		}
		if err := conn.QueryRowContext(ctx, "SELECT max(s) FROM ("+strings.Join(parts, " UNION ALL ")+")").Scan(&held); err != nil {
			return err
		}
	}
	redelivery := !b.Snapshot && held.Valid && held.Int64 >= b.FirstSeq
	if redelivery {
		if err := exec("DELETE FROM cdc_events WHERE seq BETWEEN ? AND ?", b.FirstSeq, b.LastSeq); err != nil {
			return err
		}
		if err := exec("DELETE FROM cdc_dead_letters WHERE seq BETWEEN ? AND ?", b.FirstSeq, b.LastSeq); err != nil {
			return err
		}
		for entity := range b.Raw {
			t := warehouse.TableOf(entity)
			if err := exec("DELETE FROM "+t.Name+" WHERE _seq BETWEEN ? AND ?", b.FirstSeq, b.LastSeq); err != nil {
				return err
			}
		}
	}
	if b.Events != nil && b.Events.NumRows() > 0 {
		if err := appendRecord(conn, "cdc_events", b.Events); err != nil {
			return err
		}
	}
	for entity, rec := range b.Raw {
		t := warehouse.TableOf(entity)
		if t == nil {
			return fmt.Errorf("warehouse: no raw table for entity %q", entity)
		}
		if err := t.CheckRecord(rec); err != nil {
			return err
		}
		if err := appendRecord(conn, t.Name, rec); err != nil {
			return err
		}
		if err := refreshCurrent(ctx, conn, t, b, rec, !b.Snapshot && !redelivery); err != nil {
			return err
		}
	}
	now := time.Now().UTC()
	for _, d := range b.DeadLetters {
		if err := exec("INSERT INTO cdc_dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", d.Seq, d.Entity, d.EntityID, d.Op, d.Version,
			d.OccurredAt.UTC(), d.TxID, d.InstitutionID, d.Payload, d.Reason, now); err != nil {
			return err
		}
	}
	if !b.Snapshot {
		events := 0
		if b.Events != nil {
			events = int(b.Events.NumRows())
		}
		if err := exec("INSERT INTO cdc_batches VALUES (?, ?, ?, ?, ?)", b.FirstSeq, b.LastSeq, events, len(b.DeadLetters), now); err != nil {
			return err
		}
	}
	return nil
}

// appendRecord appends an Arrow record through DuckDB's appender, which
// writes into the connection's open transaction.
func appendRecord(conn *sql.Conn, table string, rec arrow.Record) error {
	return appendRows(conn, table, rec, nil)
}

// appendRows appends the given rows of rec (nil: every row).
func appendRows(conn *sql.Conn, table string, rec arrow.Record, rows []int) error {
	return conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", table)
		if err != nil {
			return err
		}
		cols := rec.Columns()
		row := make([]driver.Value, len(cols))
		add := func(i int) error {
			for j, c := range cols {
				row[j] = warehouse.Value(c, i)
			}
			if err := a.AppendRow(row...); err != nil {
				a.Close()
				return fmt.Errorf("append %s: %w", table, err)
			}
			return nil
		}
		if rows == nil {
			for i := 0; i < int(rec.NumRows()); i++ {
				if err := add(i); err != nil {
					return err
				}
			}
		}
		for _, i := range rows {
			if err := add(i); err != nil {
				return err
			}
		}
		return a.Close()
	})
}

// DeadLetters implements warehouse.Warehouse.
func (w *Warehouse) DeadLetters(ctx context.Context, limit int) ([]warehouse.DeadLetter, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT seq, entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload, reason, failed_at
FROM cdc_dead_letters d WHERE NOT EXISTS (SELECT 1 FROM cdc_dead_letter_replays r WHERE r.seq = d.seq) ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []warehouse.DeadLetter
	for rows.Next() {
		var d warehouse.DeadLetter
		if err := rows.Scan(&d.Seq, &d.Entity, &d.EntityID, &d.Op, &d.Version, &d.OccurredAt, &d.TxID, &d.InstitutionID, &d.Payload, &d.Reason, &d.FailedAt); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ResolveDeadLetters implements warehouse.Warehouse.
func (w *Warehouse) ResolveDeadLetters(ctx context.Context, seqs []int64) error {
	now := time.Now().UTC()
	for _, s := range seqs {
		if _, err := w.db.ExecContext(ctx, "INSERT INTO cdc_dead_letter_replays VALUES (?, ?)", s, now); err != nil {
			return err
		}
	}
	return nil
}

// Reset implements warehouse.Warehouse.
func (w *Warehouse) Reset(ctx context.Context) error {
	rows, err := w.db.QueryContext(ctx, "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'")
	if err != nil {
		return err
	}
	var drops []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return err
		}
		kind := "TABLE"
		if typ == "VIEW" {
			kind = "VIEW"
		}
		drops = append(drops, fmt.Sprintf("DROP %s IF EXISTS %s CASCADE", kind, name))
	}
	rows.Close()
	for _, d := range drops {
		if _, err := w.db.ExecContext(ctx, d); err != nil {
			return err
		}
	}
	return w.init(ctx)
}

// ResetNamespace implements warehouse.Warehouse: one transaction deletes
// the namespace's rows from every landing table.
func (w *Warehouse) ResetNamespace(ctx context.Context, ns int64) error {
	var stmts []string
	for _, tw := range warehouse.NamespaceRows(ns, false) {
		stmts = append(stmts, "DELETE FROM "+tw[0]+" WHERE "+tw[1])
	}
	return w.ExecAtomic(ctx, stmts...)
}

// Query implements warehouse.Warehouse.
func (w *Warehouse) Query(ctx context.Context, query string, args ...any) (array.RecordReader, error) {
	rows, err := w.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		rows.Close()
		return nil, err
	}
	fields := make([]arrow.Field, len(cts))
	for i, ct := range cts {
		typ, err := arrowTypeOf(ct.DatabaseTypeName())
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("column %s: %w", ct.Name(), err)
		}
		fields[i] = arrow.Field{Name: ct.Name(), Type: typ, Nullable: true}
	}
	return warehouse.NewRowReader(arrow.NewSchema(fields, nil), &rowSource{rows: rows}), nil
}

func arrowTypeOf(dbType string) (arrow.DataType, error) {
	switch {
	case dbType == "BIGINT" || dbType == "INTEGER" || dbType == "SMALLINT" || dbType == "TINYINT" || dbType == "HUGEINT" ||
		dbType == "UBIGINT" || dbType == "UINTEGER" || dbType == "USMALLINT" || dbType == "UTINYINT":
		return arrow.PrimitiveTypes.Int64, nil
	case dbType == "DOUBLE" || dbType == "FLOAT" || strings.HasPrefix(dbType, "DECIMAL"):
		return arrow.PrimitiveTypes.Float64, nil
	case dbType == "VARCHAR":
		return arrow.BinaryTypes.String, nil
	case dbType == "BOOLEAN":
		return arrow.FixedWidthTypes.Boolean, nil
	case dbType == "DATE":
		return arrow.FixedWidthTypes.Date32, nil
	case strings.HasPrefix(dbType, "TIMESTAMP"):
		return &arrow.TimestampType{Unit: warehouse.TimeUnit, TimeZone: "UTC"}, nil
	}
	return nil, fmt.Errorf("no Arrow type for DuckDB %s", dbType)
}

type rowSource struct {
	rows *sql.Rows
	ptrs []any
}

func (s *rowSource) Next() bool   { return s.rows.Next() }
func (s *rowSource) Err() error   { return s.rows.Err() }
func (s *rowSource) Close() error { return s.rows.Close() }

func (s *rowSource) Values(vals []any) error {
	if s.ptrs == nil {
		s.ptrs = make([]any, len(vals))
	}
	for i := range vals {
		vals[i] = nil
		s.ptrs[i] = &vals[i]
	}
	return s.rows.Scan(s.ptrs...)
}
