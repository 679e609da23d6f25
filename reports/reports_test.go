package reports_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/reports"
)

// TestCatalogue: every table reads a mart that exists, groups by its keys,
// takes its values from measures or columns the query returns, and judges
// against a column to its left.
func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, tb := range reports.Tables {
		if seen[tb.ID] || tb.Title == "" {
			t.Errorf("table %q repeated or untitled", tb.ID)
		}
		seen[tb.ID] = true
		m := etl.MartByName(tb.Mart)
		if m == nil {
			t.Fatalf("%s: no mart %s", tb.ID, tb.Mart)
		}
		q := etl.Query{From: "2026-01-01", To: "2026-01-31", Grain: tb.Grain, GroupBy: tb.GroupBy, Measures: tb.Measures()}
		if err := q.Validate(m); err != nil {
			t.Errorf("%s: %v", tb.ID, err)
		}
		for i, c := range tb.Columns {
			if c.Header == "" || c.Width <= 0 || c.Format == "" {
				t.Errorf("%s.%s: header, width and format are required", tb.ID, c.Key)
			}
			for _, name := range []string{c.Num, c.Den} {
				if _, ok := m.Measure(name); name != "" && c.Rule == "" && !ok {
					t.Errorf("%s.%s reads %s, not a measure of %s", tb.ID, c.Key, name, m.Name)
				}
			}
			if c.Rule == "verdict" {
				left := false
				for _, p := range tb.Columns[:i] {
					left = left || p.Key == c.Num
				}
				if !left {
					t.Errorf("%s.%s judges %s, which is not to its left", tb.ID, c.Key, c.Num)
				}
			}
		}
	}
}

// TestRules: the embedded rules load and cover every item and dimension of
// the data_quality units; a replacement file is read and checked.
func TestRules(t *testing.T) {
	r := reports.DefaultRules()
	if r.Version == "" {
		t.Fatal("no version")
	}
	units, err := os.ReadFile("../etl/sql/duckdb/units.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range r.Rules {
		if !strings.Contains(string(units), "'"+x.Item+"'") || !strings.Contains(string(units), "'"+x.Dimension+"'") {
			t.Errorf("rule %s/%s has no units in the mart", x.Item, x.Dimension)
		}
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "rules.json")
	const common = `"emr_coverage":{"basic":0.8,"selective":0.5},"smart_coverage":{"basic":0.8,"selective":0.5},
		"self_assessment":{"coverage_months":3,"dq_index":"min","dq_min":0.5,"partial_band":0.8}`
	os.WriteFile(good, []byte(`{"version":"2027.1",`+common+`,"rules":[{"item":"06.01.4","dimension":"完整性","threshold":0.6}]}`), 0o600)
	if r2, err := reports.LoadRules(good); err != nil || r2.Version != "2027.1" {
		t.Errorf("replacement: %v %v", r2, err)
	} else if x, ok := r2.Find("06.01.4", "完整性"); !ok || x.Threshold != 0.6 {
		t.Errorf("find %v %v", x, ok)
	}
	for _, bad := range []string{`{"version":"x","rules":[]}`, `{"rules":[{"item":"a","dimension":"b","threshold":0.5}]}`,
		`{"version":"x","rules":[{"item":"a","dimension":"b","threshold":1.5}]}`, `{not json`,
		`{"version":"x","rules":[{"item":"a","dimension":"b","threshold":0.5}]}`, // no self_assessment band: it is never a constant in code
		`{"version":"x",` + strings.Replace(common, `"partial_band":0.8`, `"partial_band":1.2`, 1) + `,"rules":[{"item":"a","dimension":"b","threshold":0.5}]}`,
		`{"version":"x",` + common + `,"placeholders":["无","x' OR 1=1 --"],"rules":[{"item":"a","dimension":"b","threshold":0.5}]}`} {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(bad), 0o600)
		if _, err := reports.LoadRules(p); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if _, err := reports.LoadRules(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("accepted a missing file")
	}
}

// TestReportCatalogue: every report's sheets name a table, a mart's detail
// or a rated kind that exists, and sheet names are unique and valid.
func TestReportCatalogue(t *testing.T) {
	for _, rep := range reports.Reports {
		names := map[string]bool{}
		for _, sh := range rep.Sheets {
			switch {
			case sh.Table != "":
				if reports.TableByID(sh.Table) == nil {
					t.Errorf("%s/%s: no table %s", rep.ID, sh.Name, sh.Table)
				}
			case sh.Detail != "":
				if etl.MartByName(sh.Detail) == nil {
					t.Errorf("%s/%s: no mart %s", rep.ID, sh.Name, sh.Detail)
				}
			case sh.Rated != "functions" && sh.Rated != "self-assessment":
				t.Errorf("%s/%s: no source", rep.ID, sh.Name)
			}
			if names[sh.Name] || sh.Name == "说明" || len([]rune(sh.Name)) > 31 || strings.ContainsAny(sh.Name, `:\/?*[]`) {
				t.Errorf("%s: bad sheet name %q", rep.ID, sh.Name)
			}
			names[sh.Name] = true
		}
	}
}
