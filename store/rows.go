package store

import (
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// Rows are mapped to entity structs by their json tags, so that the CDC
// payload (the JSON of the struct) is exactly the row's columns. This is a
// few dozen lines of reflection rather than an ORM dependency: we need insert,
// optimistic update and scan of flat structs, and nothing else.

// timeLayout is fixed-width UTC so that stored times sort as strings.
const timeLayout = "2006-01-02T15:04:05.000Z"

// tableNames maps an entity to its table where the entity name is an SQL keyword
// or too generic.
var tableNames = map[string]string{
	"order":   "his_order",
	"session": "treatment_session",
	"record":  "treatment_record",
}

// TableName returns the core table of an entity.
func TableName(entity string) string {
	if t, ok := tableNames[entity]; ok {
		return t
	}
	return entity
}

type colKind int

const (
	kindPlain colKind = iota
	kindTime
	kindTimePtr
	kindBool
)

type column struct {
	name  string
	index []int
	kind  colKind
}

type table struct {
	entity    string
	name      string
	cols      []column // cols[0] is id
	stateful  bool
	deptCol   []int  // field index of dept_id, nil if none
	patCol    []int  // field index of patient_id, nil if none
	sealed    []int  // indexes into cols of the columns stored sealed (vault.go)
	selectSQL string // SELECT cols FROM t
	insertSQL string
	// insertWithIDSQL places a table's first row in the core's namespace (namespace.go).
	insertWithIDSQL string
	updateSQL       string
}

var tables sync.Map // reflect.Type → *table

func tableOf(e model.Entity) *table {
	t := reflect.TypeOf(e).Elem()
	if v, ok := tables.Load(t); ok {
		return v.(*table)
	}
	tb := &table{entity: e.EntityName(), name: TableName(e.EntityName())}
	_, tb.stateful = e.(model.Stateful)
	for _, f := range model.Fields(e) {
		c := column{name: f.Name, index: f.Index}
		switch f.Kind {
		case model.KindTime:
			c.kind = kindTime
		case model.KindNullTime:
			c.kind = kindTimePtr
		case model.KindBool:
			c.kind = kindBool
		}
		tb.cols = append(tb.cols, c)
		switch f.Name {
		case "dept_id":
			tb.deptCol = c.index
		case "patient_id":
			tb.patCol = c.index
		}
	}
	names := make([]string, len(tb.cols))
	for i, c := range tb.cols {
		names[i] = c.name
		if slices.Contains(sealedColumns[tb.name], c.name) {
			tb.sealed = append(tb.sealed, i)
		}
	}
	tb.selectSQL = "SELECT " + strings.Join(names, ", ") + " FROM " + tb.name
	// An insert also writes the blind index of each sealed column, after
	// the entity's own columns (insertArgs).
	ins := names
	for _, i := range tb.sealed {
		ins = append(ins[:len(ins):len(ins)], indexColumns(names[i])...)
	}
	tb.insertSQL = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING id", tb.name,
		strings.Join(ins[1:], ", "), strings.TrimSuffix(strings.Repeat("?, ", len(ins)-1), ", "))
	tb.insertWithIDSQL = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING id", tb.name,
		strings.Join(ins, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(ins)), ", "))
	sets := make([]string, 0, len(names)-1)
	for _, n := range names[1:] {
		sets = append(sets, n+" = ?")
	}
	tb.updateSQL = fmt.Sprintf("UPDATE %s SET %s WHERE id = ? AND version = ?", tb.name, strings.Join(sets, ", "))
	tables.Store(t, tb)
	return tb
}

// Columns returns the column names of an entity's table, in struct order.
func Columns(e model.Entity) []string {
	tb := tableOf(e)
	out := make([]string, len(tb.cols))
	for i, c := range tb.cols {
		out[i] = c.name
	}
	return out
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

// values returns the column values of e, skipping the id column.
func (tb *table) values(e model.Entity) []any {
	v := reflect.ValueOf(e).Elem()
	out := make([]any, 0, len(tb.cols)-1)
	for _, c := range tb.cols[1:] {
		f := v.FieldByIndex(c.index)
		switch c.kind {
		case kindTime:
			out = append(out, formatTime(f.Interface().(time.Time)))
		case kindTimePtr:
			if f.IsNil() {
				out = append(out, nil)
			} else {
				out = append(out, formatTime(*f.Interface().(*time.Time)))
			}
		case kindBool:
			if f.Bool() {
				out = append(out, 1)
			} else {
				out = append(out, 0)
			}
		default:
			if f.Kind() == reflect.Pointer {
				if f.IsNil() {
					out = append(out, nil)
				} else {
					out = append(out, f.Elem().Interface())
				}
			} else {
				out = append(out, f.Interface())
			}
		}
	}
	return out
}

// scan reads one row of tb.selectSQL into e.
func (tb *table) scan(sc interface{ Scan(...any) error }, e model.Entity) error {
	v := reflect.ValueOf(e).Elem()
	dest := make([]any, len(tb.cols))
	var times []int
	for i, c := range tb.cols {
		if c.kind == kindTime || c.kind == kindTimePtr {
			dest[i] = new(sql.NullString)
			times = append(times, i)
			continue
		}
		dest[i] = v.FieldByIndex(c.index).Addr().Interface()
	}
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	for _, i := range times {
		ns := dest[i].(*sql.NullString)
		f := v.FieldByIndex(tb.cols[i].index)
		if !ns.Valid {
			f.SetZero()
			continue
		}
		t, err := parseTime(ns.String)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", tb.name, tb.cols[i].name, err)
		}
		if tb.cols[i].kind == kindTime {
			f.Set(reflect.ValueOf(t))
		} else {
			f.Set(reflect.ValueOf(&t))
		}
	}
	return nil
}

// Entities returns one zero value of every entity type of the core.
func Entities() []model.Entity { return model.Entities() }

// partialUpdate builds an UPDATE of the columns whose values differ between
// prev and cur (always including version and updated_at), and its arguments,
// taken from stored (cur with its sealed columns encrypted: they are compared
// in clear, since each seal of a value differs).
// Statement texts repeat per combination of changed columns, so they are
// prepared once like any other.
func (tb *table) partialUpdate(prev, cur, stored []any, id, oldVersion int64) (string, []any) {
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(tb.name)
	b.WriteString(" SET ")
	args := make([]any, 0, 8)
	for i, c := range tb.cols[1:] {
		if c.name != "version" && c.name != "updated_at" && prev[i] == cur[i] {
			continue
		}
		if len(args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.name)
		b.WriteString(" = ?")
		args = append(args, stored[i])
	}
	b.WriteString(" WHERE id = ? AND version = ?")
	return b.String(), append(args, id, oldVersion)
}
