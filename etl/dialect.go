package etl

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
)

//go:embed sql
var sqlFS embed.FS

// dialect is what differs between the engines around the mart SQL files:
// the template macros those files use, and the DDL of mart tables.
type dialect struct {
	engine string
	// dayOf is the China day of a UTC timestamp column; dateOf the day of
	// a YYYY-MM-DD text column.
	dayOf, dateOf func(col string) string
	// funcs are the engine's other macros (seconds, epoch, jsonInt, z).
	funcs func() template.FuncMap
	ddl   func(m *Mart, table string) string
	// period truncates a mart's day to the first day of its week (Monday)
	// or month.
	period map[string]string
	// date is a literal of a checked YYYY-MM-DD day.
	date func(day string) string
	// snapshots says whether an incremental run reads each entity's rows of
	// its days from a snapshot table made once per run (see snapshot.go)
	// instead of the cur_ tables.
	snapshots bool
	// martWorkers is how many marts a run builds at once.
	martWorkers int
	// blankRE is the engine's literal of a pattern matching every Unicode
	// space (and zero-width ones), removed before a field counts as filled.
	blankRE string
	// placeholders are the values that count as not filled (rules.json).
	placeholders []string
}

// blank is a condition true when col, with every Unicode space removed, is
// empty or one of the placeholders: RATING.md's 完整性 counts such a field
// as not filled.
func (d dialect) blank(col string) string {
	lits := []string{"''"}
	for _, p := range d.placeholders {
		p = strings.TrimSpace(p)
		if p == "" || strings.ContainsAny(p, "'\\") {
			continue // never a quote or backslash inside a literal
		}
		lits = append(lits, "'"+p+"'")
	}
	return "(" + d.strip(col) + " IN (" + strings.Join(lits, ", ") + "))"
}

// strip is col without any Unicode space.
func (d dialect) strip(col string) string {
	if d.engine == "clickhouse" {
		return "replaceRegexpAll(ifNull(" + col + ", ''), " + d.blankRE + ", '')"
	}
	return "regexp_replace(coalesce(" + col + ", ''), " + d.blankRE + ", '', 'g')"
}

// dialect is the engine's dialect with the runner's placeholders.
func (r *Runner) dialect() (dialect, error) {
	d, err := dialectOf(r.Warehouse.Engine())
	d.placeholders = r.Placeholders
	return d, err
}

// Local is the hospitals' time zone: a mart's day is a day in China.
const Local = "Asia/Shanghai"

// dayList is days as the engine's date literals, comma separated.
func (d dialect) dayList(days []string) string {
	q := make([]string, len(days))
	for i, day := range days {
		q[i] = d.date(day)
	}
	return strings.Join(q, ", ")
}

// macros are the template macros of the SQL files for days (nil: every
// day): day and date of a column, the filters to those days, the current
// rows of an entity, and the engine's others. With snaps, cur names the
// run's snapshot of an entity and records that the SQL reads it.
func (d dialect) macros(days []string, snaps *snapshots) template.FuncMap {
	in := func(expr string) string {
		if days == nil {
			return "1 = 1"
		}
		return expr + " IN (" + d.dayList(days) + ")"
	}
	m := d.funcs()
	m["day"], m["date"] = d.dayOf, d.dateOf
	m["inDays"] = func(col string) string { return in(d.dayOf(col)) }
	m["inDateDays"] = func(col string) string { return in(d.dateOf(col)) }
	m["blank"] = d.blank
	// cur ENTITY COL: the current rows of an entity a subquery filtered on
	// the days of COL reads. curJoin ENTITY KEY OTHER OTHERKEY COL: those a
	// row of OTHER on the days joins to (KEY = OTHERKEY). Both check that
	// the snapshot holds those rows, so a mart cannot read a snapshot that
	// is missing rows it counts.
	cur := func(entity string, need snapshotRule) (string, error) {
		if err := need.check(entity); err != nil {
			return "", err
		}
		if snaps == nil || days == nil {
			return "cur_" + entity, nil
		}
		return snaps.use(entity), nil
	}
	m["cur"] = func(entity, col string) (string, error) {
		return cur(entity, snapshotRule{col: col})
	}
	m["curJoin"] = func(entity, key, other, otherKey, col string) (string, error) {
		return cur(entity, snapshotRule{key: key, other: other, otherKey: otherKey, col: col})
	}
	return m
}

// dayExpr is the day of an entity's column: the China day of a timestamp,
// the day of a YYYY-MM-DD text.
func (d dialect) dayExpr(entity, col string) (string, error) {
	t := warehouse.TableOf(entity)
	if t == nil {
		return "", fmt.Errorf("etl: no warehouse table for entity %q", entity)
	}
	i, ok := t.FieldIndex[col]
	if !ok {
		return "", fmt.Errorf("etl: entity %s has no column %q", entity, col)
	}
	if t.Columns[i].Kind == model.KindString {
		return d.dateOf(col), nil
	}
	return d.dayOf(col), nil
}

var duckDialect = dialect{
	engine:  "duckdb",
	blankRE: `'[\s\p{Z}\x{200B}\x{FEFF}]'`,
	// DuckDB parallelises each statement itself, and its marts are
	// swapped in one transaction each on the one connection.
	martWorkers: 1,
	period:      map[string]string{"day": "day", "week": "CAST(date_trunc('week', day) AS DATE)", "month": "CAST(date_trunc('month', day) AS DATE)"},
	date:        func(day string) string { return "DATE '" + day + "'" },
	// Timestamps are stored in UTC; China has no daylight saving time.
	dayOf:  func(col string) string { return "CAST(" + col + " + INTERVAL 8 HOUR AS DATE)" },
	dateOf: func(col string) string { return "CAST(" + col + " AS DATE)" },
	funcs: func() template.FuncMap {
		return template.FuncMap{
			"seconds": func(from, to string) string {
				return "COALESCE(CAST(epoch(" + to + ") - epoch(" + from + ") AS BIGINT), 0)"
			},
			"epoch": func(col string) string { return "epoch(" + col + ")" },
			"jsonInt": func(col, key string) string {
				return "COALESCE(TRY_CAST(NULLIF(regexp_extract(" + col + `, '"` + key + `":\s*(-?\d+)', 1), '') AS BIGINT), 0)`
			},
			"z": func() string { return "0" },
		}
	},
	ddl: func(m *Mart, table string) string {
		cols := m.Columns()
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = c.Name + " " + map[ColumnType]string{Date: "DATE", Int: "BIGINT", Text: "VARCHAR"}[c.Type] + " NOT NULL"
		}
		return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", table, strings.Join(defs, ", "))
	},
}

var clickDialect = dialect{
	engine: "clickhouse",
	period: map[string]string{"day": "day", "week": "toMonday(day)", "month": "toStartOfMonth(day)"},
	date:   func(day string) string { return "toDate('" + day + "')" },
	dayOf:  func(col string) string { return "toDate(assumeNotNull(" + col + "), '" + Local + "')" },
	dateOf: func(col string) string { return "toDate(" + col + ")" },
	// FINAL (the merge of an id's versions at read time, single-threaded
	// in 18.16) over a year of a hospital's table costs 10–100 ms, and the
	// marts read ~50 such subqueries: an incremental run reads each entity
	// of its days once into a snapshot instead.
	snapshots: true,
	blankRE:   `'[\\s\\p{Z}\\x{200B}\\x{FEFF}]'`,
	// Two marts at once keep a small server's two cores busy: much of a
	// mart's time is round trips and single-threaded steps.
	martWorkers: 2,
	funcs: func() template.FuncMap {
		return template.FuncMap{
			"seconds": func(from, to string) string {
				return "if(isNull(" + from + ") OR isNull(" + to + "), toInt64(0), toInt64(assumeNotNull(" + to + ")) - toInt64(assumeNotNull(" + from + ")))"
			},
			"epoch":   func(col string) string { return "toInt64(" + col + ")" },
			"jsonInt": func(col, key string) string { return "visitParamExtractInt(" + col + ", '" + key + "')" },
			"z":       func() string { return "toInt64(0)" },
		}
	},
	// Partitioned by month: an incremental run recomputes the touched months
	// into a staging table and swaps them in with REPLACE PARTITION, which is
	// atomic per partition; month partitions keep the part count low.
	ddl: func(m *Mart, table string) string {
		cols := m.Columns()
		defs := make([]string, len(cols))
		keys := make([]string, len(m.Keys))
		for i, c := range cols {
			defs[i] = c.Name + " " + map[ColumnType]string{Date: "Date", Int: "Int64", Text: "String"}[c.Type]
		}
		for i, c := range m.Keys {
			keys[i] = c.Name
		}
		return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s) ENGINE = MergeTree() PARTITION BY toYYYYMM(day) ORDER BY (%s)",
			table, strings.Join(defs, ", "), strings.Join(keys, ", "))
	},
}

func dialectOf(engine string) (dialect, error) {
	switch engine {
	case "duckdb":
		return duckDialect, nil
	case "clickhouse":
		return clickDialect, nil
	}
	return dialect{}, fmt.Errorf("etl: no mart SQL for engine %q", engine)
}

// martSQL renders a mart's SELECT for the given days (nil: every day),
// reading the run's snapshots (nil: the cur_ tables).
func (d dialect) martSQL(m *Mart, days []string, snaps *snapshots) (string, error) {
	return d.render(m.Name+".sql", days, snaps)
}

// detailSQL renders the SELECT of a mart's detail rows on the given days:
// its keys then its Detail columns.
func (d dialect) detailSQL(m *Mart, days []string) (string, error) {
	return d.render("detail/"+m.Name+".sql", days, nil)
}

// render executes one SQL file of the engine with the macros for days. The
// engine's units.sql is parsed beside it: it defines the rows that both a
// mart and its detail count, so the two cannot disagree.
func (d dialect) render(file string, days []string, snaps *snapshots) (string, error) {
	body, err := sqlFS.ReadFile("sql/" + d.engine + "/" + file)
	if err != nil {
		return "", err
	}
	t, err := template.New(file).Funcs(d.macros(days, snaps)).Parse(string(body))
	if err != nil {
		return "", err
	}
	if units, err := sqlFS.ReadFile("sql/" + d.engine + "/units.sql"); err == nil {
		if _, err := t.Parse(string(units)); err != nil {
			return "", err
		}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, nil); err != nil {
		return "", err
	}
	return b.String(), nil
}

// validDay checks a YYYY-MM-DD string before it is written into SQL.
func validDay(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil && len(s) == 10
}
