package etl_test

import (
	"slices"
	"testing"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestParity: the same CDC input gives identical marts, every row and every
// measure, on DuckDB and ClickHouse.
func TestParity(t *testing.T) {
	core := pilotCore(t)
	duck := warehousetest.DuckDB(t).Open(t)
	defer duck.Close()
	click := warehousetest.ClickHouse(t).Open(t)
	defer click.Close()
	ship(t, core, duck)
	ship(t, core, click)
	mustRun(t, runner(duck), etl.Options{Full: true})
	mustRun(t, runner(click), etl.Options{Full: true})
	for _, m := range etl.Marts {
		a, b := dump(t, duck, m), dump(t, click, m)
		if len(a) == 0 {
			t.Errorf("%s: empty on the pilot", m.Name)
		}
		if !slices.Equal(a, b) {
			t.Errorf("%s: DuckDB %d rows, ClickHouse %d rows\n%s", m.Name, len(a), len(b), diff(a, b))
		}
	}
}
