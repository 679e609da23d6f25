package reports

import (
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/warehouse"
)

// Format is how a column's values read: on screen, in CSV and as the
// spreadsheet number format of an export.
type Format string

const (
	Integer Format = "int"     // 1,234
	Yuan    Format = "yuan"    // ¥1,234.56 (the marts keep fen; values are yuan)
	Percent Format = "percent" // 85.3%
	Decimal Format = "decimal" // 4.53
	Date    Format = "date"    // 2026-09-01
	Text    Format = "text"
)

// Column is one column of a table: where its value comes from and how it
// reads.
type Column struct {
	Key    string  `json:"key"`
	Header string  `json:"header"`
	Format Format  `json:"format"`
	Width  float64 `json:"width"` // in characters, as spreadsheets measure it

	// The value: a result column named Key; or the sum Num over the sum
	// Den (a rate or an average: sums, so any period is exact), times Scale
	// (1 when zero); or, with Rule, the row's rating rule ("title",
	// "threshold", or "verdict": whether the coefficient column Num
	// reaches it).
	Num   string  `json:"-"`
	Den   string  `json:"-"`
	Scale float64 `json:"-"`
	Rule  string  `json:"-"`
}

// Table is one report table over a mart.
type Table struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Mart  string `json:"mart"`
	// Grain is the query's grain; a table with a "period" column takes the
	// request's grain instead.
	Grain   string   `json:"grain"`
	GroupBy []string `json:"group_by"`
	Columns []Column `json:"columns"`
}

// HasPeriod reports whether the table has a period column.
func (t *Table) HasPeriod() bool {
	for _, c := range t.Columns {
		if c.Key == "period" {
			return true
		}
	}
	return false
}

// Measures are the mart measures the table's columns read.
func (t *Table) Measures() []string {
	m := etl.MartByName(t.Mart)
	var out []string
	seen := map[string]bool{}
	add := func(name string) {
		if _, ok := m.Measure(name); ok && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, c := range t.Columns {
		add(c.Key)
		add(c.Num)
		add(c.Den)
	}
	return out
}

// Cell is one cell: its value (int64, float64, string, time.Time or nil)
// and its text as shown.
type Cell struct {
	Value any
	Text  string
}

var numbers = message.NewPrinter(language.Chinese)

// format renders a value in f; nil is a dash.
func format(f Format, v any) string {
	switch x := v.(type) {
	case nil:
		return "—"
	case time.Time:
		return x.Format("2006-01-02")
	case string:
		return x
	case int64:
		if f == ID {
			return fmt.Sprint(x)
		}
		if f == Yuan {
			return numbers.Sprintf("¥%.2f", float64(x))
		}
		return numbers.Sprintf("%d", x)
	case float64:
		switch f {
		case Yuan:
			return numbers.Sprintf("¥%.2f", x)
		case Percent:
			return fmt.Sprintf("%.1f%%", x*100)
		case Integer:
			return numbers.Sprintf("%d", int64(math.Round(x)))
		}
		return numbers.Sprintf("%.2f", x)
	}
	return fmt.Sprint(v)
}

// Build computes the table's cells from a mart result (as etl.Runner.Query
// returns it). It releases rr.
func (t *Table) Build(rr array.RecordReader, rules *Rules) ([][]Cell, error) {
	schema := rr.Schema()
	idx := map[string]int{}
	for i, f := range schema.Fields() {
		idx[f.Name] = i
	}
	for _, c := range t.Columns {
		if c.Rule != "" {
			continue // reads the rules and a column of this table
		}
		for _, name := range []string{c.Num, c.Den} {
			if _, ok := idx[name]; name != "" && !ok {
				rr.Release()
				return nil, fmt.Errorf("reports: table %s column %s reads %s, which the result lacks", t.ID, c.Key, name)
			}
		}
		if _, ok := idx[c.Key]; c.Num == "" && c.Rule == "" && !ok {
			rr.Release()
			return nil, fmt.Errorf("reports: table %s has no source for column %s", t.ID, c.Key)
		}
	}
	rows, err := warehouse.ReadAll(rr)
	if err != nil {
		return nil, err
	}
	judged := make([]int, len(t.Columns)) // a verdict's coefficient column
	for j, c := range t.Columns {
		judged[j] = indexOf(t.Columns, c.Num)
	}
	out := make([][]Cell, 0, len(rows))
	for _, row := range rows {
		cells := make([]Cell, len(t.Columns))
		for j, c := range t.Columns {
			var v any
			switch {
			case c.Rule != "":
				item, _ := row[idx["item"]].(string)
				dim, _ := row[idx["dimension"]].(string)
				rule, ok := rules.Find(item, dim)
				if !ok {
					break
				}
				switch c.Rule {
				case "threshold":
					v = rule.Threshold
				case "title":
					v = rule.Title
				}
				if c.Rule != "verdict" {
					break
				}
				if coef, ok := cells[judged[j]].Value.(float64); ok { // judged at two decimals, as the rating platform does
					v = map[bool]string{true: "达标", false: "未达标"}[Reaches(coef, rule.Threshold)]
				}
			case c.Num != "":
				v = c.measured(row, idx)
			default:
				v = row[idx[c.Key]]
			}
			cells[j] = Cell{Value: v, Text: format(c.Format, v)}
		}
		out = append(out, cells)
	}
	return out, nil
}

// AddsUp reports whether the table's rows add up to a 合计 row: not a
// table of rating items (thresholds and verdicts differ by row).
func (t *Table) AddsUp() bool {
	for _, c := range t.Columns {
		if c.Rule != "" {
			return false
		}
	}
	return true
}

// Totals computes the table's 合计 row from a result summed over the whole
// period and scope (grain all, no grouping): counts and amounts are the
// period's, rates and averages its sums over sums, 治疗人数 the distinct
// patients of the period. Key columns are blank but the first, which
// reads 合计. It releases rr.
func (t *Table) Totals(rr array.RecordReader) ([]any, error) {
	schema := rr.Schema()
	rows, err := warehouse.ReadAll(rr)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(t.Columns))
	out[0] = "合计"
	if len(rows) != 1 {
		return out, nil
	}
	idx := map[string]int{}
	for i, f := range schema.Fields() {
		idx[f.Name] = i
	}
	row := rows[0]
	for j, c := range t.Columns {
		if j == 0 {
			continue
		}
		switch {
		case c.Num != "":
			out[j] = c.measured(row, idx)
		default:
			if i, ok := idx[c.Key]; ok {
				out[j] = row[i]
			}
		}
	}
	return out, nil
}

// measured is a column read from measures: the sum Num, or Num over Den
// (nil when Den is 0), times Scale, in yuan for Yuan columns.
func (c Column) measured(row []any, idx map[string]int) any {
	num, _ := row[idx[c.Num]].(int64)
	scale := c.Scale
	if scale == 0 {
		scale = 1
	}
	if c.Format == Yuan {
		scale /= 100 // fen to yuan
	}
	if c.Den == "" {
		if c.Format == Integer {
			return num
		}
		return float64(num) * scale
	}
	if den, _ := row[idx[c.Den]].(int64); den != 0 {
		return float64(num) / float64(den) * scale
	}
	return nil
}

func indexOf(cols []Column, key string) int {
	for i, c := range cols {
		if c.Key == key {
			return i
		}
	}
	return -1
}
