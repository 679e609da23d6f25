package etl_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestStratifiedSample: the evidence sample holds, in every month × item ×
// dimension × passed stratum, exactly the n units of lowest sample key,
// recomputed here from the whole population; failing units are drawn; the
// same seed draws the same sample on both engines, another seed another.
func TestStratifiedSample(t *testing.T) {
	core := pilotCore(t)
	m := etl.MartByName("data_quality")
	base := etl.Query{From: "2026-08-01", To: "2026-12-31"}
	const n = 5
	draws := map[string][]string{}
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		_, r := built(t, core, e)
		read := func(q etl.DetailQuery) ([]map[string]any, int64) {
			rr, total, err := r.Detail(context.Background(), m, q)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := warehouse.ReadAll(rr)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]map[string]any, len(rows))
			for i, row := range rows {
				out[i] = map[string]any{}
				for j, f := range rr.Schema().Fields() {
					out[i][f.Name] = row[j]
				}
			}
			return out, total
		}
		stratum := func(u map[string]any) string {
			return fmt.Sprint(u["day"].(time.Time).Format("2006-01"), u["item"], u["dimension"], u["passed"])
		}
		unit := func(u map[string]any) string {
			return fmt.Sprint(u["entity"], u["entity_id"], u["item"], u["dimension"])
		}
		// The population, page by page, and the sample it implies.
		var population []map[string]any
		for offset := 0; ; offset += 10000 {
			page, _ := read(etl.DetailQuery{Query: base, Limit: 10000, Offset: offset})
			population = append(population, page...)
			if len(page) < 10000 {
				break
			}
		}
		const seed = 20261129
		byStratum := map[string][]map[string]any{}
		failing := 0
		for _, u := range population {
			byStratum[stratum(u)] = append(byStratum[stratum(u)], u)
			if u["passed"].(int64) == 0 {
				failing++
			}
		}
		if failing == 0 {
			t.Fatal("the pilot has no failing unit to draw")
		}
		var want []string
		for _, units := range byStratum {
			sort.Slice(units, func(i, j int) bool {
				ki, kj := etl.SampleKey(units[i]["entity_id"].(int64), seed), etl.SampleKey(units[j]["entity_id"].(int64), seed)
				return ki < kj || ki == kj && units[i]["entity_id"].(int64) < units[j]["entity_id"].(int64)
			})
			for _, u := range units[:min(n, len(units))] {
				want = append(want, unit(u))
			}
		}
		sample := func(seed uint32) []string {
			rows, total := read(etl.DetailQuery{Query: base, Sample: &etl.Sample{Seed: seed, PerStratum: n, By: []string{"item", "dimension", "passed"}}})
			if int(total) != len(population) {
				t.Errorf("total %d, population %d", total, len(population))
			}
			var got []string
			for _, u := range rows {
				got = append(got, unit(u))
			}
			return got
		}
		got := sample(seed)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			for _, u := range got {
				if !slices.Contains(want, u) {
					t.Logf("drawn but not among the lowest keys: %s", u)
				}
			}
			t.Errorf("sample of %d units, want %d (the %d of lowest key in each of %d strata)", len(got), len(want), n, len(byStratum))
		}
		drawnFailing := 0
		for _, u := range got {
			for _, p := range population {
				if unit(p) == u && p["passed"].(int64) == 0 {
					drawnFailing++
				}
			}
		}
		if drawnFailing == 0 {
			t.Error("no failing unit in the sample")
		}
		again := sample(seed)
		slices.Sort(again)
		other := sample(seed + 1)
		slices.Sort(other)
		if !slices.Equal(again, got) || slices.Equal(other, got) {
			t.Errorf("same seed same sample: %v; another seed another sample: %v", slices.Equal(again, got), !slices.Equal(other, got))
		}
		draws[e.Name] = got
	})
	var first []string
	for _, d := range draws {
		if first != nil && !slices.Equal(first, d) {
			t.Error("the engines draw different samples for one seed")
		}
		first = d
	}
}
