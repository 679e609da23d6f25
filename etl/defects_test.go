package etl_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/gen"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/reports"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
)

// TestFailingUnitsAreTheSpoiledOnes generates the pilot with every defect
// the generator knows (rates raised so that each kind occurs), ships it,
// builds the marts, and checks that the data_quality mart's failing units
// of each EMR rule are exactly the units the generator spoiled: no rule
// misses a spoiled unit, and none fails a unit the generator left intact.
func TestFailingUnitsAreTheSpoiledOnes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "core.db"), store.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := gen.DefaultDefects
	d.NoEndTime, d.NameMismatch, d.WrongPlan, d.BlankName = gen.Range{Min: 0.04, Max: 0.08}, gen.Range{Min: 0.04, Max: 0.08},
		gen.Range{Min: 0.04, Max: 0.08}, gen.Range{Min: 0.04, Max: 0.08}
	d.Unplanned = gen.Range{Min: 0.04, Max: 0.08}
	st, err := gen.Run(ctx, db, gen.Config{Preset: gen.Presets["pilot"], Seed: 7, Defects: &d})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := duckdb.Open(ctx, filepath.Join(dir, "warehouse.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	if err := (&cdc.Relay{Core: db, Warehouse: wh, Logger: quiet}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	r := &etl.Runner{Warehouse: wh, Logger: quiet, Placeholders: reports.DefaultRules().Placeholders}
	if _, err := r.Run(ctx, etl.Options{Full: true}); err != nil {
		t.Fatal(err)
	}
	m := etl.MartByName("data_quality")
	for _, rule := range []string{"06.01.3/一致性", "06.01.4/完整性", "06.01.5/完整性", "06.01.5/整合性", "06.01.6/完整性", "06.01.6/及时性"} {
		item, dim, _ := cut(rule)
		var failing []int64
		total := 0
		for offset := 0; ; offset += 10000 {
			rr, _, err := r.Detail(ctx, m, etl.DetailQuery{Query: etl.Query{From: "2026-01-01", To: "2027-12-31",
				Texts: map[string][]string{"item": {item}, "dimension": {dim}}}, Limit: 10000, Offset: offset})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := warehouse.ReadAll(rr)
			if err != nil {
				t.Fatal(err)
			}
			cols := rr.Schema()
			idIdx, passIdx := cols.FieldIndices("entity_id")[0], cols.FieldIndices("passed")[0]
			for _, row := range rows {
				if row[passIdx].(int64) == 0 {
					failing = append(failing, row[idIdx].(int64))
				}
			}
			total += len(rows)
			if len(rows) < 10000 {
				break
			}
		}
		slices.Sort(failing)
		want := st.Spoiled.IDs(rule)
		if total == 0 {
			t.Errorf("%s: no units", rule)
		}
		if rule != "06.01.6/及时性" && len(want) == 0 {
			t.Errorf("%s: the generator spoiled nothing", rule)
		}
		if !slices.Equal(failing, want) {
			t.Errorf("%s: %d failing units, %d spoiled\n failing %v\n spoiled %v", rule, len(failing), len(want), head(failing), head(want))
		}
	}
}

func cut(rule string) (string, string, bool) {
	for i := range rule {
		if rule[i] == '/' {
			return rule[:i], rule[i+1:], true
		}
	}
	return rule, "", false
}

func head(ids []int64) string {
	if len(ids) > 12 {
		return fmt.Sprint(ids[:12]) + "…"
	}
	return fmt.Sprint(ids)
}
