package cdc

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the relay's Prometheus metrics.
type Metrics struct {
	events       prometheus.Counter
	deadLetters  prometheus.Counter
	pruned       prometheus.Counter
	errors       *prometheus.CounterVec
	batchSize    prometheus.Histogram
	stageSeconds *prometheus.HistogramVec
}

// NewMetrics builds unregistered metrics; Register adds them with the lag
// gauges of a relay to a registry.
func NewMetrics() *Metrics {
	return &Metrics{
		events: prometheus.NewCounter(prometheus.CounterOpts{Name: "zhiliao_relay_events_total",
			Help: "Outbox events shipped to the warehouse (dead letters included)."}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{Name: "zhiliao_relay_dead_letters_total",
			Help: "Events the warehouse could not take, kept as dead letters."}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "zhiliao_relay_pruned_total",
			Help: "Checkpointed outbox rows pruned after the retention window."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zhiliao_relay_errors_total",
			Help: "Relay failures by stage (read, append, checkpoint, prune, resume); each is retried."}, []string{"stage"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zhiliao_relay_batch_events",
			Help: "Events per shipped batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		stageSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zhiliao_relay_stage_seconds",
			Help: "Time per batch in each stage.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"stage"}),
	}
}

// Register adds the metrics and the relay's lag gauges to reg.
func (r *Relay) Register(reg prometheus.Registerer) error {
	r.defaults()
	m := r.Metrics
	lagEvents := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhiliao_relay_lag_events",
		Help: "Committed outbox events the warehouse does not hold yet."}, func() float64 {
		head, err := r.Core.OutboxHead(context.Background())
		if err != nil {
			return -1
		}
		return float64(head - r.Shipped())
	})
	lagSeconds := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhiliao_relay_lag_seconds",
		Help: "Age of the oldest committed event the warehouse does not hold yet (0 when caught up)."}, func() float64 {
		t, err := r.Core.OutboxOldestAfter(context.Background(), r.Shipped())
		if err != nil {
			return -1
		}
		if t.IsZero() {
			return 0
		}
		return time.Since(t).Seconds()
	})
	for _, c := range []prometheus.Collector{m.events, m.deadLetters, m.pruned, m.errors, m.batchSize, m.stageSeconds, lagEvents, lagSeconds} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// DeadLetters is the dead-letter counter (for tests and dashboards).
func (m *Metrics) DeadLetters() prometheus.Counter { return m.deadLetters }

// Errors is the error counter of one stage.
func (m *Metrics) Errors(stage string) prometheus.Counter { return m.errors.WithLabelValues(stage) }

// Pruned is the counter of pruned outbox rows.
func (m *Metrics) Pruned() prometheus.Counter { return m.pruned }
