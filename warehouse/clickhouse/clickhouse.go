// Package clickhouse is the warehouse engine for hospitals and regions that
// outgrow one machine: ClickHouse over its native protocol
// (github.com/ClickHouse/clickhouse-go/v2). Its SQL runs on 18.16 (the Debian
// package the tests use) and on current releases: no LowCardinality,
// DateTime64, Map, window functions or newer settings, and explicit column
// lists in every batch INSERT.
//
// Batches land table by table with the batch log written last, so the high
// water never claims a batch that did not land whole; a repeated delivery
// leaves duplicates that ReplacingMergeTree collapses and every reader
// deduplicates (the ver_ and cur_ views, FINAL).
package clickhouse

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	sqldriver "database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
	"github.com/zhiliao/zhiliao/warehouse"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Warehouse is the ClickHouse engine.
type Warehouse struct {
	Addr, Database string
	conn           driver.Conn
	id             string
	// cl, on a shard of a cluster, makes its DDL cluster-wide (cluster.go).
	cl *clusterDDL
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// ParseDSN reads clickhouse://[user[:password]@]HOST:PORT[,HOST:PORT…]/DB:
// the servers are tried in order.
func ParseDSN(dsn string) (*ch.Options, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "clickhouse" || u.Host == "" {
		return nil, fmt.Errorf("warehouse %q: want clickhouse://HOST:PORT/DB", dsn)
	}
	opt := &ch.Options{Addr: strings.Split(u.Host, ","), Auth: ch.Auth{Database: strings.TrimPrefix(u.Path, "/"), Username: "default"},
		DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Minute, MaxOpenConns: 8}
	if opt.Auth.Database == "" {
		opt.Auth.Database = "default"
	}
	if u.User != nil {
		opt.Auth.Username = u.User.Username()
		opt.Auth.Password, _ = u.User.Password()
	}
	// secure=true speaks TLS to the servers' secure TCP port; ca_file=PATH
	// (PEM) names the CA that signed their certificates, for a hospital's
	// own CA that the system's trust store does not hold.
	q := u.Query()
	secure := false
	if v := q.Get("secure"); v != "" {
		if secure, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("warehouse %s: secure=%q: want true or false", redact(u), v)
		}
	}
	if ca := q.Get("ca_file"); ca != "" {
		if !secure {
			return nil, fmt.Errorf("warehouse %s: ca_file needs secure=true", redact(u))
		}
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("warehouse %s: ca_file: %w", redact(u), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("warehouse %s: ca_file %s holds no PEM certificate", redact(u), ca)
		}
		opt.TLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	} else if secure {
		opt.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return opt, nil
}

// Open connects to the server of dsn, creates the database if needed,
// applies the migrations and brings the raw tables in line with the model.
func Open(ctx context.Context, dsn string) (*Warehouse, error) {
	opt, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	db := opt.Auth.Database
	// Create the database through a connection to "default" first.
	opt.Auth.Database = "default"
	boot, err := ch.Open(opt)
	if err != nil {
		return nil, err
	}
	err = boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(db))
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", opt.Addr[0], err)
	}
	opt.Auth.Database = db
	conn, err := ch.Open(opt)
	if err != nil {
		return nil, err
	}
	w := &Warehouse{Addr: opt.Addr[0], Database: db, conn: conn}
	if err := w.init(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return w, nil
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "") + "`" }

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
	ids, err := queryColumn[string](ctx, w.conn, "SELECT value FROM warehouse_meta FINAL WHERE key = 'warehouse_id'")
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		w.id = ids[0]
		return nil
	}
	b := make([]byte, 8)
	rand.Read(b)
	w.id = "clickhouse-" + hex.EncodeToString(b)
	return w.insert(ctx, "INSERT INTO warehouse_meta (key, value, at)", []any{"warehouse_id", w.id, time.Now()})
}

func (w *Warehouse) Engine() string { return "clickhouse" }

// SQL implements warehouse.Warehouse.
func (w *Warehouse) SQL() policy.SQL { return SQL }

// SQL spells policy's masks in ClickHouse's RE2 functions (18.16 and later:
// patterns are constants, no computed substring length is needed).
var SQL = policy.RegexpSQL{
	Length:     func(a ...string) string { return "toInt64(lengthUTF8(" + a[0] + "))" },
	Extract:    func(a ...string) string { return "extract(" + strings.Join(a, ", ") + ")" },
	ReplaceOne: func(a ...string) string { return "replaceRegexpOne(" + strings.Join(a, ", ") + ")" },
	ReplaceAll: func(a ...string) string { return "replaceRegexpAll(" + strings.Join(a, ", ") + ")" },
	Join:       func(a ...string) string { return "concat(" + strings.Join(a, ", ") + ")" },
}

func (w *Warehouse) ID() string   { return w.id }
func (w *Warehouse) Close() error { return w.conn.Close() }

// AppliedVersions implements warehouse.Migrator.
func (w *Warehouse) AppliedVersions(ctx context.Context) (map[int64]bool, error) {
	if err := w.Exec(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version Int64, applied_at DateTime) ENGINE = MergeTree() ORDER BY version"); err != nil {
		return nil, err
	}
	vs, err := queryColumn[int64](ctx, w.conn, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	out := map[int64]bool{}
	for _, v := range vs {
		out[v] = true
	}
	return out, nil
}

// RecordVersion implements warehouse.Migrator.
func (w *Warehouse) RecordVersion(ctx context.Context, v int64) error {
	return w.insert(ctx, "INSERT INTO schema_migrations (version, applied_at)", []any{v, time.Now()})
}

// Exec runs a statement.
func (w *Warehouse) Exec(ctx context.Context, query string, args ...any) error {
	if w.cl != nil {
		err := w.cl.exec(ctx, w.conn, query, args...)
		if lostServer(err) && ctx.Err() == nil {
			// A pooled connection to a replica that died: the pool dials
			// the shard's next live replica for the second try.
			err = w.cl.exec(ctx, w.conn, query, args...)
		}
		return err
	}
	return w.conn.Exec(ctx, query, args...)
}

// lostServer says whether err is the connection to a server breaking (not
// an answer of the server): the statement never ran, or ran to no reply.
func lostServer(err error) bool {
	var ex *ch.Exception
	if err == nil || errors.As(err, &ex) {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.As(err, &ne) || errors.Is(err, sqldriver.ErrBadConn)
}

// ExecAtomic implements warehouse.Warehouse: ClickHouse has no
// transactions, so the statements run in order.
func (w *Warehouse) ExecAtomic(ctx context.Context, stmts ...string) error {
	for _, s := range stmts {
		if err := w.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func sqlType(name string, k model.FieldKind) string {
	if name == "version" {
		return "UInt64" // ReplacingMergeTree's version column must be unsigned on 18.16
	}
	switch k {
	case model.KindInt:
		return "Int64"
	case model.KindNullInt:
		return "Nullable(Int64)"
	case model.KindString:
		return "String"
	case model.KindBool:
		return "UInt8"
	case model.KindTime:
		return "DateTime"
	default:
		return "Nullable(DateTime)"
	}
}

// EnsureRaw brings the raw tables and their views in line with the model.
func (w *Warehouse) EnsureRaw(ctx context.Context) error {
	d := dialect{}
	if w.cl != nil {
		d = dialect{cluster: true, local: w.Database}
	}
	return warehouse.SyncRaw(ctx, w, "SELECT table, name FROM system.columns WHERE database = currentDatabase() AND table LIKE 'raw_%'", d)
}

// dialect spells the raw layer in ClickHouse 18.16. On a cluster its
// statements go through clusterDDL, which makes them cluster-wide; there
// the views name their tables with the database (a view created ON
// CLUSTER resolves a bare name in each server's default database), the
// groups of DDL run side by side (each ON CLUSTER statement waits for the
// distributed DDL queue) and the views are recreated only when their table
// changed.
type dialect struct {
	cluster bool
	local   string
}

func (d dialect) qualify(name string) string {
	if d.local == "" {
		return name
	}
	return d.local + "." + name
}

func (d dialect) ParallelDDL() int {
	if d.cluster {
		return 8
	}
	return 1
}

func (d dialect) ViewsOnChange() bool { return d.cluster }

// CreateTable keeps every version: the sorting key includes it, so merges
// collapse only repeated deliveries of the same version.
func (dialect) CreateTable(t *warehouse.Table) string {
	defs := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		defs[i] = c.Name + " " + sqlType(c.Name, c.Kind)
	}
	return fmt.Sprintf("CREATE TABLE %s (%s) ENGINE = ReplacingMergeTree(version) ORDER BY (institution_id, id, version)",
		t.Name, strings.Join(defs, ", "))
}

// AddColumn adds the column to the raw table and drops the latest-version
// table, which Views rebuilds from raw with every column.
func (dialect) AddColumn(t *warehouse.Table, c warehouse.Column) []string {
	return []string{
		fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", t.Name, c.Name, sqlType(c.Name, c.Kind)),
		"DROP TABLE IF EXISTS " + t.Latest,
	}
}

// Views: ver_ deduplicates repeated deliveries that merges have not
// collapsed yet (FINAL); cur_ reads the latest-version table with FINAL
// and drops deleted ids. Before latest_ tables, cur_ found each id's newest
// version with an IN over max(version) of all of raw, which made every mart
// query scan every version of every row twice. A latest_ table created for
// a warehouse that already holds rows is filled from raw once.
func (d dialect) Views(t *warehouse.Table) []string {
	defs := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		defs[i] = c.Name + " " + sqlType(c.Name, c.Kind)
	}
	latest := t.Latest
	stmts := []string{
		"DROP TABLE IF EXISTS ver_" + t.Entity,
		fmt.Sprintf("CREATE VIEW ver_%s AS SELECT * FROM %s FINAL", t.Entity, d.qualify(t.Name)),
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s) ENGINE = ReplacingMergeTree(version) ORDER BY (institution_id, id)",
			latest, strings.Join(defs, ", ")),
	}
	if !d.cluster { // a cluster fills each shard's latest_ tables itself (Cluster.fillLatest)
		stmts = append(stmts, fillLatest(t))
	}
	return append(stmts,
		"DROP TABLE IF EXISTS "+t.Current,
		fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM %s FINAL WHERE _op != 'd'", t.Current, d.qualify(latest)))
}

// fillLatest fills an empty latest_ table from raw.
func fillLatest(t *warehouse.Table) string {
	cols := t.ColumnList()
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s WHERE (SELECT count() FROM %s) = 0", t.Latest, cols, cols, t.Name, t.Latest)
}

// HighWaters implements warehouse.Warehouse.
func (w *Warehouse) HighWaters(ctx context.Context) (map[int64]int64, error) {
	rows, err := w.conn.Query(ctx, fmt.Sprintf("SELECT bitShiftRight(last_seq, %d) AS ns, max(last_seq) FROM cdc_batches GROUP BY ns", model.NamespaceBits))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return warehouse.ScanHighWaters(rows)
}

// Append implements warehouse.Warehouse: raw tables, dead letters and events
// first, the batch log row last.
func (w *Warehouse) Append(ctx context.Context, b *warehouse.Batch) error {
	for entity, rec := range b.Raw {
		t := warehouse.TableOf(entity)
		if t == nil {
			return fmt.Errorf("warehouse: no raw table for entity %q", entity)
		}
		if err := t.CheckRecord(rec); err != nil {
			return err
		}
		if err := w.appendRecord(ctx, t.Name, t.ColumnList(), rec); err != nil {
			return err
		}
		// Then the latest-version table: a crash between the two is
		// redelivered (the batch log below is written last) and both
		// inserts collapse on their keys.
		if err := w.appendRecord(ctx, t.Latest, t.ColumnList(), rec); err != nil {
			return err
		}
	}
	if len(b.DeadLetters) > 0 {
		now := time.Now()
		rows := make([][]any, len(b.DeadLetters))
		for i, d := range b.DeadLetters {
			rows[i] = []any{d.Seq, d.Entity, d.EntityID, d.Op, d.Version, d.OccurredAt, d.TxID, d.InstitutionID, d.Payload, d.Reason, now}
		}
		if err := w.insert(ctx, "INSERT INTO cdc_dead_letters (seq, entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload, reason, failed_at)", rows...); err != nil {
			return err
		}
	}
	if b.Snapshot {
		return nil
	}
	events := int64(0)
	if b.Events != nil && b.Events.NumRows() > 0 {
		events = b.Events.NumRows()
		if err := w.appendRecord(ctx, "cdc_events", warehouse.EventsColumnList(), b.Events); err != nil {
			return err
		}
	}
	return w.insert(ctx, "INSERT INTO cdc_batches (first_seq, last_seq, events, dead_letters, landed_at)",
		[]any{b.FirstSeq, b.LastSeq, events, int64(len(b.DeadLetters)), time.Now()})
}

// insertContext turns off the block deduplication of replicated tables for
// the rows of a rebuild (warehouse.Reland): their blocks may equal blocks
// taken before ResetNamespace deleted them, and ZooKeeper still holds those
// blocks' hashes. Everything else is still deduplicated twice: by the
// blocks, and by the tables' keys.
func insertContext(ctx context.Context) context.Context {
	if !warehouse.Relanding(ctx) {
		return ctx
	}
	return ch.Context(ctx, ch.WithSettings(ch.Settings{"insert_deduplicate": 0}))
}

// appendRecord sends an Arrow record as one native block, column by column:
// each Arrow array becomes the slice clickhouse-go appends in one call.
func (w *Warehouse) appendRecord(ctx context.Context, table, columns string, rec arrow.Record) error {
	batch, err := w.conn.PrepareBatch(insertContext(ctx), "INSERT INTO "+table+" ("+columns+")")
	if err != nil {
		return err
	}
	for i, col := range rec.Columns() {
		unsigned := rec.ColumnName(i) == "version" && table != "cdc_events"
		if err := batch.Column(i).Append(columnSlice(col, unsigned)); err != nil {
			batch.Abort()
			return fmt.Errorf("%s.%s: %w", table, rec.ColumnName(i), err)
		}
	}
	return batch.Send()
}

// columnSlice converts an Arrow array into the Go slice clickhouse-go takes
// for the column: values directly where Arrow's buffer already is one,
// pointers where the column is nullable.
func columnSlice(col arrow.Array, unsigned bool) any {
	n := col.Len()
	nullable := col.NullN() > 0
	switch a := col.(type) {
	case *array.Int64:
		if unsigned {
			out := make([]uint64, n)
			for i, v := range a.Int64Values() {
				out[i] = uint64(v)
			}
			return out
		}
		if !nullable {
			return a.Int64Values()
		}
		out := make([]*int64, n)
		vals := a.Int64Values()
		for i := range out {
			if a.IsValid(i) {
				out[i] = &vals[i]
			}
		}
		return out
	case *array.Timestamp:
		vals := a.TimestampValues()
		if !nullable {
			return *(*[]int64)(unsafePointer(&vals))
		}
		out := make([]*int64, n)
		for i := range out {
			if a.IsValid(i) {
				v := int64(vals[i])
				out[i] = &v
			}
		}
		return out
	case *array.String:
		out := make([]string, n)
		for i := range out {
			out[i] = a.Value(i)
		}
		return out
	case *array.Boolean:
		out := make([]uint8, n)
		for i := range out {
			if a.Value(i) {
				out[i] = 1
			}
		}
		return out
	}
	panic(fmt.Sprintf("clickhouse: no column slice for %T", col))
}

// DeadLetters implements warehouse.Warehouse.
func (w *Warehouse) DeadLetters(ctx context.Context, limit int) ([]warehouse.DeadLetter, error) {
	rows, err := w.conn.Query(ctx, `SELECT seq, entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload, reason, failed_at
FROM cdc_dead_letters FINAL WHERE seq NOT IN (SELECT seq FROM cdc_dead_letter_replays) ORDER BY seq LIMIT ?`, limit)
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
		d.OccurredAt, d.FailedAt = d.OccurredAt.UTC(), d.FailedAt.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// ResolveDeadLetters implements warehouse.Warehouse.
func (w *Warehouse) ResolveDeadLetters(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	now := time.Now()
	rows := make([][]any, len(seqs))
	for i, s := range seqs {
		rows[i] = []any{s, now}
	}
	return w.insert(ctx, "INSERT INTO cdc_dead_letter_replays (seq, replayed_at)", rows...)
}

// queryColumn reads a one-column result.
func queryColumn[T any](ctx context.Context, conn driver.Conn, query string, args ...any) ([]T, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// insert sends rows as one native block. Every INSERT goes this way: 18.16
// keeps waiting for a data block after an INSERT … VALUES sent as a query.
func (w *Warehouse) insert(ctx context.Context, query string, rows ...[]any) error {
	batch, err := w.conn.PrepareBatch(insertContext(ctx), query)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := batch.Append(r...); err != nil {
			batch.Abort()
			return err
		}
	}
	return batch.Send()
}

// Reset implements warehouse.Warehouse.
func (w *Warehouse) Reset(ctx context.Context) error {
	// Views first: they read the tables.
	names, err := queryColumn[string](ctx, w.conn, "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY engine != 'View', name")
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := w.Exec(ctx, "DROP TABLE IF EXISTS "+quoteIdent(n)); err != nil {
			return err
		}
	}
	return w.init(ctx)
}

// ResetNamespace implements warehouse.Warehouse with a delete mutation per
// landing table (ALTER TABLE … DELETE, which rewrites the parts holding the
// namespace's rows in the background), and waits until every mutation of
// the database is done, so that the relay that follows writes after them
// (a mutation applies only to the parts that existed when it was made). On
// a replicated table the mutation goes to every replica through ZooKeeper.
func (w *Warehouse) ResetNamespace(ctx context.Context, ns int64) error {
	for _, tw := range warehouse.NamespaceRows(ns, true) {
		if err := w.Exec(ctx, "ALTER TABLE "+quoteIdent(tw[0])+" DELETE WHERE "+tw[1]); err != nil {
			return fmt.Errorf("%s: %w", tw[0], err)
		}
	}
	return mutationsDone(ctx, w.conn)
}

// mutationsDone waits until the server has finished every mutation of the
// connection's database.
func mutationsDone(ctx context.Context, conn driver.Conn) error {
	for {
		var left uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND NOT is_done").Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Query implements warehouse.Warehouse.
func (w *Warehouse) Query(ctx context.Context, query string, args ...any) (array.RecordReader, error) {
	rows, err := w.conn.Query(ctx, query, args...)
	if w.cl != nil && lostServer(err) && ctx.Err() == nil {
		rows, err = w.conn.Query(ctx, query, args...) // as in Exec
	}
	if err != nil {
		return nil, err
	}
	cts := rows.ColumnTypes()
	fields := make([]arrow.Field, len(cts))
	for i, ct := range cts {
		typ, err := arrowTypeOf(ct.DatabaseTypeName())
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("column %s: %w", ct.Name(), err)
		}
		fields[i] = arrow.Field{Name: ct.Name(), Type: typ, Nullable: true}
	}
	src := &rowSource{rows: rows, dest: make([]any, len(cts))}
	for i, ct := range cts {
		src.dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	return warehouse.NewRowReader(arrow.NewSchema(fields, nil), src), nil
}

func arrowTypeOf(t string) (arrow.DataType, error) {
	if strings.HasPrefix(t, "Nullable(") {
		t = strings.TrimSuffix(strings.TrimPrefix(t, "Nullable("), ")")
	}
	switch {
	case strings.HasPrefix(t, "Int") || strings.HasPrefix(t, "UInt"):
		return arrow.PrimitiveTypes.Int64, nil
	case strings.HasPrefix(t, "Float") || strings.HasPrefix(t, "Decimal"):
		return arrow.PrimitiveTypes.Float64, nil
	case t == "String" || strings.HasPrefix(t, "FixedString") || strings.HasPrefix(t, "Enum"):
		return arrow.BinaryTypes.String, nil
	case t == "Date":
		return arrow.FixedWidthTypes.Date32, nil
	case strings.HasPrefix(t, "DateTime"):
		return &arrow.TimestampType{Unit: warehouse.TimeUnit, TimeZone: "UTC"}, nil
	}
	return nil, fmt.Errorf("no Arrow type for ClickHouse %s", t)
}

type rowSource struct {
	rows driver.Rows
	dest []any
}

func (s *rowSource) Next() bool   { return s.rows.Next() }
func (s *rowSource) Err() error   { return s.rows.Err() }
func (s *rowSource) Close() error { return s.rows.Close() }

func (s *rowSource) Values(vals []any) error {
	if err := s.rows.Scan(s.dest...); err != nil {
		return err
	}
	for i, d := range s.dest {
		v := reflect.ValueOf(d).Elem() // the scanned value, or a pointer for Nullable
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				break
			}
			v = v.Elem()
		}
		if v.Kind() == reflect.Pointer {
			vals[i] = nil
			continue
		}
		x := v.Interface()
		if d, ok := x.(interface{ InexactFloat64() float64 }); ok { // Decimal
			x = d.InexactFloat64()
		}
		vals[i] = x
	}
	return nil
}
