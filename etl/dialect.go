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
	// int64 casts an integer expression to a 64-bit integer (DuckDB's sums
	// and counts are HUGEINT or INTEGER; ClickHouse 18.16 types a literal by
	// its value).
	int64 func(expr string) string
	// countDistinct is the exact number of distinct values of col.
	countDistinct func(col string) string
	// sumInt is the 64-bit sum of an integer column, 0 over no rows.
	sumInt func(col string) string
	// leftJoinUsing joins right to left on cols, keeping every left row.
	leftJoinUsing func(left, right string, cols []string) string
	// stripSpace removes every match of the pattern pat from col (NULL as '').
	stripSpace func(col, pat string) string
	// sampleBy keeps the n rows of lowest key in each stratum (by) of the
	// rows of body that match where, presented in order.
	sampleBy func(body, where, by, key, id string, n int, order string) string
	// swapInTransaction: a mart's days are replaced in one transaction
	// (DuckDB); otherwise they are built in a stage table and its
	// partitions swapped in (ClickHouse, replaceClick).
	swapInTransaction bool
	// runsDDL creates the run log; columnsOf lists a table's columns;
	// textDefault and bigintDefault are the types of columns added to it.
	runsDDL                    string
	columnsOf                  func(table string) string
	textDefault, bigintDefault string
	// timestamp is a literal of a UTC instant; boolean a literal of b.
	timestamp func(t time.Time) string
	boolean   func(b bool) string
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
func (d dialect) strip(col string) string { return d.stripSpace(col, d.blankRE) }

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
	engine:        "duckdb",
	int64:         func(expr string) string { return "CAST(" + expr + " AS BIGINT)" },
	countDistinct: func(col string) string { return "CAST(count(DISTINCT " + col + ") AS BIGINT)" },
	// A sum of BIGINT is HUGEINT in DuckDB.
	sumInt: func(col string) string { return "CAST(COALESCE(sum(" + col + "), 0) AS BIGINT)" },
	leftJoinUsing: func(left, right string, cols []string) string {
		return left + " LEFT JOIN " + right + " USING (" + strings.Join(cols, ", ") + ")"
	},
	stripSpace: func(col, pat string) string { return "regexp_replace(coalesce(" + col + ", ''), " + pat + ", '', 'g')" },
	sampleBy: func(body, where, by, key, id string, n int, order string) string {
		return fmt.Sprintf("SELECT * FROM (%s) t WHERE %s QUALIFY row_number() OVER (PARTITION BY %s ORDER BY %s, %s) <= %d ORDER BY %s",
			body, where, by, key, id, n, order)
	},
	swapInTransaction: true,
	runsDDL: `CREATE TABLE IF NOT EXISTS etl_runs (mart VARCHAR NOT NULL, job VARCHAR NOT NULL, full_rebuild BOOLEAN NOT NULL,
status VARCHAR NOT NULL, days BIGINT NOT NULL, rows BIGINT NOT NULL, watermark BIGINT NOT NULL, error VARCHAR NOT NULL,
started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL, seq BIGINT NOT NULL, watermarks VARCHAR NOT NULL DEFAULT '', shard BIGINT NOT NULL DEFAULT 0)`,
	columnsOf: func(table string) string {
		return "SELECT column_name FROM information_schema.columns WHERE table_name = '" + table + "'"
	},
	textDefault: "VARCHAR DEFAULT ''", bigintDefault: "BIGINT DEFAULT 0",
	timestamp: func(t time.Time) string { return "CAST('" + t.UTC().Format("2006-01-02 15:04:05") + "' AS TIMESTAMP)" },
	boolean:   func(b bool) string { return map[bool]string{true: "true", false: "false"}[b] },
	blankRE:   `'[\s\p{Z}\x{200B}\x{FEFF}]'`,
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
	engine:        "clickhouse",
	int64:         func(expr string) string { return "toInt64(" + expr + ")" },
	countDistinct: func(col string) string { return "toInt64(uniqExact(" + col + "))" },
	sumInt:        func(col string) string { return "sum(" + col + ")" },
	leftJoinUsing: func(left, right string, cols []string) string {
		return left + " ALL LEFT JOIN " + right + " USING " + strings.Join(cols, ", ")
	},
	stripSpace: func(col, pat string) string { return "replaceRegexpAll(ifNull(" + col + ", ''), " + pat + ", '')" },
	// 18.16 has no window functions: LIMIT n BY keeps a stratum's first rows.
	sampleBy: func(body, where, by, key, id string, n int, order string) string {
		return fmt.Sprintf("SELECT * FROM (SELECT * FROM (%s) t WHERE %s ORDER BY %s, %s, %s LIMIT %d BY %s) ORDER BY %s",
			body, where, by, key, id, n, by, order)
	},
	runsDDL: `CREATE TABLE IF NOT EXISTS etl_runs (mart String, job String, full_rebuild UInt8,
status String, days Int64, rows Int64, watermark Int64, error String, started_at DateTime, finished_at DateTime, seq Int64,
watermarks String DEFAULT '', shard Int64 DEFAULT 0) ENGINE = MergeTree() ORDER BY seq`,
	columnsOf: func(table string) string {
		return "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '" + table + "'"
	},
	textDefault: "String DEFAULT ''", bigintDefault: "Int64 DEFAULT 0",
	timestamp: func(t time.Time) string { return "toDateTime('" + t.UTC().Format("2006-01-02 15:04:05") + "', 'UTC')" },
	boolean:   func(b bool) string { return map[bool]string{true: "1", false: "0"}[b] },
	period:    map[string]string{"day": "day", "week": "toMonday(day)", "month": "toStartOfMonth(day)"},
	date:      func(day string) string { return "toDate('" + day + "')" },
	dayOf:     func(col string) string { return "toDate(assumeNotNull(" + col + "), '" + Local + "')" },
	dateOf:    func(col string) string { return "toDate(" + col + ")" },
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
