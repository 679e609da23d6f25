package etl

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestTouchedDaysByListAndBySubquery: the touched days of a range are the
// same whether the changed ids go into the lookup as literal lists (a busy
// minute) or, past maxLiteralIDs, as a subquery on cdc_events (a catch-up).
func TestTouchedDaysByListAndBySubquery(t *testing.T) {
	core := testcore.Pilot(t)
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		ctx := context.Background()
		wh := e.Open(t)
		defer wh.Close()
		if err := (&cdc.Relay{Core: core, Warehouse: wh, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Drain(ctx); err != nil {
			t.Fatal(err)
		}
		head, err := warehouse.HighWater(ctx, wh, 0)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := dialectOf(wh.Engine())
		r := &Runner{Warehouse: wh}
		for _, span := range [][2]int64{{head / 2, head/2 + 300}, {0, head}} {
			since := newSince(Watermarks{0: span[0]}, Watermarks{0: span[1]})
			byList, err := r.touchedDays(ctx, d, since)
			if err != nil {
				t.Fatal(err)
			}
			saved := maxLiteralIDs
			maxLiteralIDs = 0
			bySubquery, err := r.touchedDays(ctx, d, since)
			maxLiteralIDs = saved
			if err != nil {
				t.Fatal(err)
			}
			if len(byList) == 0 || !slices.Equal(byList, bySubquery) {
				t.Errorf("seq %v: literal ids give %d days, the subquery %d\n%v\n%v", span, len(byList), len(bySubquery), byList, bySubquery)
			}
		}
	})
}
