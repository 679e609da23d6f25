package cashier_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/zhiliao/zhiliao/gen/cashier"
	"github.com/zhiliao/zhiliao/model"
)

func TestSimulator(t *testing.T) {
	core := func(ctx context.Context, inst int64, orderNo string) (string, error) {
		if orderNo == "UNPAID" {
			return model.OrderUnpaid, nil
		}
		return model.OrderPaid, nil
	}
	sim := &cashier.Simulator{Status: core, Seed: 42, RefundPermille: 50}
	ctx := context.Background()
	refunded := 0
	for i := 0; i < 10000; i++ {
		st, err := sim.CheckPayment(ctx, 1, fmt.Sprintf("RX%05d", i))
		if err != nil {
			t.Fatal(err)
		}
		if st == model.OrderRefunded {
			refunded++
		}
	}
	// 5 % reported refunded at the cashier, give or take sampling noise.
	if refunded < 400 || refunded > 600 {
		t.Fatalf("%d of 10000 refunded, want about 500", refunded)
	}
	// Deterministic: the same seed answers the same for the same order.
	again := &cashier.Simulator{Status: core, Seed: 42, RefundPermille: 50}
	for i := 0; i < 200; i++ {
		no := fmt.Sprintf("RX%05d", i)
		a, _ := sim.CheckPayment(ctx, 1, no)
		b, _ := again.CheckPayment(ctx, 1, no)
		if a != b {
			t.Fatalf("%s: %s vs %s", no, a, b)
		}
	}
	// Unpaid stays unpaid; an override wins over everything.
	if st, _ := sim.CheckPayment(ctx, 1, "UNPAID"); st != model.OrderUnpaid {
		t.Fatalf("unpaid order answered %s", st)
	}
	sim.Set("UNPAID", model.OrderPaid)
	if st, _ := sim.CheckPayment(ctx, 1, "UNPAID"); st != model.OrderPaid {
		t.Fatalf("override ignored: %s", st)
	}
}
