// Package cashier is the demo hospital's cashier: the payment re-check
// before execution (model.PaymentChecker) for a service with no real HIS to
// ask. Simulator answers as the core's mirror of the HIS would, except for a
// deterministic share of paid orders that it reports refunded at the
// cashier, so the refusal path runs in every demo and generated workload.
// It lives beside the generator, not in ingest/his, which keeps only what
// HIS messages mean.
package cashier

import (
	"context"
	"hash/fnv"
	"strconv"
	"sync"

	"github.com/zhiliao/zhiliao/model"
)

var _ model.PaymentChecker = (*Simulator)(nil)

// Simulator is a deterministic HIS for demos, tests and the generator.
type Simulator struct {
	// Status returns the core's recorded payment status of an order.
	Status func(ctx context.Context, institutionID int64, orderNo string) (string, error)
	// Seed and RefundPermille choose which paid orders the HIS reports as
	// refunded at the cashier: those whose hash with the seed falls below.
	Seed           int64
	RefundPermille int

	mu        sync.Mutex
	overrides map[string]string
}

// Set makes the simulator answer status for an order from now on.
func (s *Simulator) Set(orderNo, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overrides == nil {
		s.overrides = map[string]string{}
	}
	s.overrides[orderNo] = status
}

// Name identifies the adapter in payment-check rows.
func (s *Simulator) Name() string { return "his-simulator" }

// CheckPayment answers the re-check.
func (s *Simulator) CheckPayment(ctx context.Context, institutionID int64, orderNo string) (string, error) {
	s.mu.Lock()
	st, ok := s.overrides[orderNo]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := s.Status(ctx, institutionID, orderNo)
	if err != nil {
		return "", err
	}
	if st == model.OrderPaid && s.RefundPermille > 0 && s.refundedAtCashier(orderNo) {
		return model.OrderRefunded, nil
	}
	return st, nil
}

func (s *Simulator) refundedAtCashier(orderNo string) bool {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(s.Seed, 10)))
	h.Write([]byte(orderNo))
	return int(h.Sum64()%1000) < s.RefundPermille
}
