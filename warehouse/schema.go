package warehouse

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/zhiliao/zhiliao/model"
)

// Envelope columns carried by every raw row, prefixed with an underscore so
// they never meet a payload column (the payload has its own id and version).
const (
	ColSeq        = "_seq"
	ColOp         = "_op"
	ColOccurredAt = "_occurred_at"
	ColTxID       = "_tx_id"
)

// Column is one column of a warehouse table.
type Column struct {
	Name string
	Kind model.FieldKind
}

// Table is a typed raw table: the envelope columns, then the entity's fields.
type Table struct {
	Entity  string
	Name    string // raw_<entity>: every version, as landed
	Current string // cur_<entity>: the latest version per id
	// Latest is latest_<entity>, ClickHouse's copy of raw sorted by id alone,
	// where ReplacingMergeTree(version) collapses an id's versions to its
	// newest (every append writes both; readers still need FINAL).
	Latest  string
	Columns []Column // envelope first, then fields
	Fields  []model.Field
	Schema  *arrow.Schema
	// FieldIndex maps a payload key to its position in Columns.
	FieldIndex map[string]int
}

// EnvelopeColumns is how many leading Columns of a Table are envelope.
const EnvelopeColumns = 4

var (
	tables      []*Table
	tableByName = map[string]*Table{}
)

// payloadOnly are the fields a CDC payload carries that its core row does
// not: the patient's keyed pseudonym, which stands in the warehouse for the
// identity the core keeps sealed (store/vault.go). A warehouse made before
// it is rebuilt (zhiliao warehouse rebuild).
var payloadOnly = map[string][]model.Field{"patient": {{Name: "pseudonym", Kind: model.KindString}}}

func init() {
	for _, e := range model.Entities() {
		t := &Table{Entity: e.EntityName(), Name: "raw_" + e.EntityName(), Current: "cur_" + e.EntityName(),
			Latest: "latest_" + e.EntityName(),
			Fields: slices.Concat(model.Fields(e), payloadOnly[e.EntityName()]), FieldIndex: map[string]int{}}
		t.Columns = []Column{{ColSeq, model.KindInt}, {ColOp, model.KindString}, {ColOccurredAt, model.KindTime}, {ColTxID, model.KindInt}}
		for _, f := range t.Fields {
			t.FieldIndex[f.Name] = len(t.Columns)
			t.Columns = append(t.Columns, Column{f.Name, f.Kind})
		}
		fields := make([]arrow.Field, len(t.Columns))
		for i, c := range t.Columns {
			fields[i] = arrow.Field{Name: c.Name, Type: ArrowType(c.Kind), Nullable: c.Kind.Nullable()}
		}
		t.Schema = arrow.NewSchema(fields, nil)
		tables = append(tables, t)
		tableByName[t.Entity] = t
	}
}

// Tables lists the raw tables, one per entity, in model.Entities order.
func Tables() []*Table { return tables }

// TableOf returns the raw table of an entity, or nil for an unknown entity.
func TableOf(entity string) *Table { return tableByName[entity] }

// TimeUnit is the precision of every timestamp in the warehouse. ClickHouse
// 18.16 has only second-precision DateTime (DateTime64 came later), so both
// engines keep seconds and give identical marts.
const TimeUnit = arrow.Second

// ArrowType maps a field kind to its Arrow type.
func ArrowType(k model.FieldKind) arrow.DataType {
	switch k {
	case model.KindInt, model.KindNullInt:
		return arrow.PrimitiveTypes.Int64
	case model.KindString:
		return arrow.BinaryTypes.String
	case model.KindBool:
		return arrow.FixedWidthTypes.Boolean
	default:
		return &arrow.TimestampType{Unit: TimeUnit, TimeZone: "UTC"}
	}
}

// EventsSchema is the Arrow schema of the cdc_events landing table.
var EventsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "seq", Type: arrow.PrimitiveTypes.Int64},
	{Name: "entity", Type: arrow.BinaryTypes.String},
	{Name: "entity_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "op", Type: arrow.BinaryTypes.String},
	{Name: "version", Type: arrow.PrimitiveTypes.Int64},
	{Name: "occurred_at", Type: &arrow.TimestampType{Unit: TimeUnit, TimeZone: "UTC"}},
	{Name: "tx_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "institution_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "payload", Type: arrow.BinaryTypes.String},
}, nil)

// ColumnList joins column names for an INSERT's explicit column list
// (ClickHouse 18.16 wants one in batch INSERTs).
func (t *Table) ColumnList() string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// EventsColumnList is the explicit column list of cdc_events.
func EventsColumnList() string {
	names := make([]string, EventsSchema.NumFields())
	for i, f := range EventsSchema.Fields() {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// CheckRecord verifies that a record has the table's schema.
func (t *Table) CheckRecord(r interface{ Schema() *arrow.Schema }) error {
	if !r.Schema().Equal(t.Schema) {
		return fmt.Errorf("warehouse: record for %s does not have its schema", t.Name)
	}
	return nil
}

// RawDialect is how an engine spells the DDL of the raw layer.
type RawDialect interface {
	CreateTable(t *Table) string
	AddColumn(t *Table, c Column) []string
	// Views (re)creates ver_<entity> (every version once) and cur_<entity>
	// (the latest version of each live id: a view, or a table the engine
	// keeps current as batches land).
	Views(t *Table) []string
}

// SyncRaw brings w's raw layer in line with the model: columnsSQL lists the
// (table, column) pairs of the raw tables w has now, in the engine's own
// catalogue; RawDDL plans the statements and w runs them, table by table.
func SyncRaw(ctx context.Context, w interface {
	Query(ctx context.Context, query string, args ...any) (array.RecordReader, error)
	Exec(ctx context.Context, query string, args ...any) error
}, columnsSQL string, d RawDialect) error {
	rr, err := w.Query(ctx, columnsSQL)
	if err != nil {
		return err
	}
	rows, err := ReadAll(rr)
	if err != nil {
		return err
	}
	have := map[string]map[string]bool{}
	for _, r := range rows {
		t, c := r[0].(string), r[1].(string)
		if have[t] == nil {
			have[t] = map[string]bool{}
		}
		have[t][c] = true
	}
	groups := RawDDL(have, d)
	workers := 1
	if p, ok := d.(interface{ ParallelDDL() int }); ok {
		workers = max(1, p.ParallelDDL())
	}
	var g errgroup.Group
	g.SetLimit(workers)
	for _, stmts := range groups {
		g.Go(func() error {
			for _, s := range stmts {
				if err := w.Exec(ctx, s); err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// RawDDL lists, table by table, the statements that bring the raw layer in
// line with the model, given the columns each raw table has now: missing
// tables are created, columns the model gained are added (the raw layer
// follows the model additively; a dropped field stays as a column of old
// versions), and the views are recreated. The groups depend on nothing but
// themselves, so an engine whose DDL is slow may run them side by side (a
// RawDialect with ParallelDDL); one that says ViewsOnChange recreates the
// views only of the tables it created or changed.
func RawDDL(have map[string]map[string]bool, d RawDialect) [][]string {
	onChange := false
	if v, ok := d.(interface{ ViewsOnChange() bool }); ok {
		onChange = v.ViewsOnChange()
	}
	var groups [][]string
	for _, t := range tables {
		var stmts []string
		if have[t.Name] == nil {
			stmts = append(stmts, d.CreateTable(t))
		} else {
			for _, c := range t.Columns {
				if !have[t.Name][c.Name] {
					stmts = append(stmts, d.AddColumn(t, c)...)
				}
			}
		}
		if len(stmts) > 0 || !onChange {
			stmts = append(stmts, d.Views(t)...)
		}
		if len(stmts) > 0 {
			groups = append(groups, stmts)
		}
	}
	return groups
}

// NamespaceRows lists, for every landing table, the condition that picks
// the rows of one namespace (one core of a regional warehouse): the events,
// batch log and dead letters by seq, the raw and current rows by id, since
// a rebuild snapshot's rows carry seq 0. Engines delete by it
// (Warehouse.ResetNamespace); latest says whether the engine keeps
// latest_ tables (ClickHouse) or cur_ tables (DuckDB) beside raw.
func NamespaceRows(ns int64, latest bool) [][2]string {
	lo, hi := model.NamespaceBase(ns), model.NamespaceBase(ns+1)
	in := func(col string) string { return fmt.Sprintf("%s >= %d AND %s < %d", col, lo, col, hi) }
	out := [][2]string{
		{"cdc_events", in("seq")},
		{"cdc_batches", in("last_seq")},
		{"cdc_dead_letters", in("seq")},
		{"cdc_dead_letter_replays", in("seq")},
	}
	for _, t := range tables {
		kept := t.Current
		if latest {
			kept = t.Latest
		}
		out = append(out, [2]string{t.Name, in("id")}, [2]string{kept, in("id")})
	}
	return out
}
