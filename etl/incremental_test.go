package etl_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// shipUpTo ships everything up to seq, and nothing after it.
func shipUpTo(tb testing.TB, core *store.DB, wh warehouse.Warehouse, seq int64) {
	tb.Helper()
	r := &cdc.Relay{Core: core, Warehouse: wh, Logger: quiet}
	if err := r.DrainTo(context.Background(), seq); err != nil {
		tb.Fatal(err)
	}
}

// corrections changes old days through the services: refunds of paid
// orders, records amended and signed again (which moves them off the day they
// were first signed), appointments cancelled.
func corrections(tb testing.TB, core *store.DB, rng *rand.Rand, round int) (refunds, resigned, cancelled int) {
	tb.Helper()
	ctx := context.Background()
	ids := func(q string) []int64 {
		rows, err := core.Reader().Query(q)
		if err != nil {
			tb.Fatal(err)
		}
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			out = append(out, id)
		}
		return out
	}
	orders := ids("SELECT id FROM his_order WHERE status = 'paid' AND refund_fen = 0 ORDER BY id")
	for i := 0; i < 4 && len(orders) > 0; i++ {
		o, err := core.Order(ctx, orders[rng.IntN(len(orders))])
		if err != nil {
			tb.Fatal(err)
		}
		_, err = core.ReceiveOrder(ctx, model.OrderMessage{InstitutionID: o.InstitutionID, MessageID: fmt.Sprintf("corr-%d-%d", round, i),
			Action: "refund", OrderNo: o.OrderNo, RefundFen: o.UnitPriceFen})
		if err != nil && model.ErrorCode(err) != model.ECONFLICT {
			tb.Fatal(err)
		}
		if err == nil {
			refunds++
		}
	}
	// Records signed late: the day they were first signed is a day nothing
	// else of the record's new version points to.
	records := ids("SELECT id FROM treatment_record WHERE status = 'signed' AND signed_at > substr(due_at, 1, 10) || 'T23:59:59.999Z' ORDER BY id")
	for i := 0; i < 4 && len(records) > 0; i++ {
		id := records[rng.IntN(len(records))]
		rec, err := core.AmendRecord(ctx, id, fmt.Sprintf("补充记录 amended in round %d", round))
		if err != nil {
			continue // signed twice in this round already
		}
		if _, err := core.SignRecord(ctx, id, *rec.SignerID); err != nil {
			tb.Fatal(err)
		}
		resigned++
	}
	appts := ids("SELECT id FROM appointment WHERE status = 'booked' ORDER BY id")
	for i := 0; i < 3 && len(appts) > 0; i++ {
		if _, err := core.CancelAppointment(ctx, appts[rng.IntN(len(appts))], "患者改期"); err == nil {
			cancelled++
		}
	}
	return
}

// TestIncrementalEqualsFull: incremental runs interleaved with new events,
// including corrections to old days, end with the marts one full rebuild
// gives; duplicated delivery changes nothing.
func TestIncrementalEqualsFull(t *testing.T) {
	warehousetest.Engines(t, func(t *testing.T, e warehousetest.Engine) {
		ctx := context.Background()
		core := pilotCore(t)
		wh := e.Open(t)
		defer wh.Close()
		r := runner(wh)
		rng := rand.New(rand.NewPCG(5, 5))
		head, _ := core.OutboxHead(ctx)
		cuts := []int64{}
		for i := 0; i < 5; i++ {
			cuts = append(cuts, 1+rng.Int64N(head))
		}
		slices.Sort(cuts)
		incremental := 0
		for i, cut := range cuts {
			shipUpTo(t, core, wh, cut)
			res := mustRun(t, r, etl.Options{Job: "incremental"})
			if i > 0 && !res[0].Full {
				incremental++
			}
		}
		for round := 0; round < 3; round++ {
			refunds, resigned, cancelled := corrections(t, core, rng, round)
			t.Logf("round %d: %d refunds, %d records signed again, %d appointments cancelled", round, refunds, resigned, cancelled)
			if refunds+resigned+cancelled == 0 {
				t.Fatalf("round %d corrected nothing", round)
			}
			ship(t, core, wh)
			res := mustRun(t, r, etl.Options{Job: "incremental"})
			if res[0].Full || res[0].Days == 0 {
				t.Errorf("round %d: %+v, want an incremental run over the corrected days", round, res[0])
			}
			incremental++
		}
		if incremental < 6 {
			t.Fatalf("only %d incremental runs", incremental)
		}
		got := map[string][]string{}
		for _, m := range etl.Marts {
			got[m.Name] = dump(t, wh, m)
		}

		// One full rebuild in a fresh warehouse of the same engine.
		var fresh warehouse.Warehouse
		if e.Name == "duckdb" {
			fresh = warehousetest.DuckDB(t).Open(t)
		} else {
			fresh = warehousetest.ClickHouse(t).Open(t)
		}
		defer fresh.Close()
		ship(t, core, fresh)
		mustRun(t, runner(fresh), etl.Options{Full: true})
		for _, m := range etl.Marts {
			if want := dump(t, fresh, m); !slices.Equal(got[m.Name], want) {
				t.Errorf("%s: incremental %d rows, full %d rows\n%s", m.Name, len(got[m.Name]), len(want), diff(got[m.Name], want))
			}
		}

		// The same events delivered again (older versions among them) and a
		// full rebuild: nothing moves.
		evs, err := core.ReadOutbox(ctx, 0, 6000, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := warehousetest.Build(evs...)
		if err := wh.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
		b.Release()
		mustRun(t, r, etl.Options{Full: true})
		for _, m := range etl.Marts {
			if again := dump(t, wh, m); !slices.Equal(got[m.Name], again) {
				t.Errorf("%s after a duplicated delivery:\n%s", m.Name, diff(got[m.Name], again))
			}
		}
	})
}
