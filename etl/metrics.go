package etl

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the ETL's Prometheus metrics; a nil *Metrics records nothing.
type Metrics struct {
	runs        *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	seconds     *prometheus.HistogramVec
}

// NewMetrics registers the ETL metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zhiliao_etl_runs_total",
			Help: "Mart runs by mart, job and status; a failed run alerts here and in the log."}, []string{"mart", "job", "status"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zhiliao_etl_last_success_timestamp_seconds",
			Help: "When each mart last finished a good run (freshness)."}, []string{"mart"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zhiliao_etl_run_seconds",
			Help: "Duration of mart runs.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}, []string{"mart", "job"}),
	}
	reg.MustRegister(m.runs, m.lastSuccess, m.seconds)
	return m
}

func (m *Metrics) observe(r Result) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(r.Mart, r.Job, r.Status).Inc()
	m.seconds.WithLabelValues(r.Mart, r.Job).Observe(r.Finished.Sub(r.StartedAt).Seconds())
	if r.Status == "ok" {
		m.lastSuccess.WithLabelValues(r.Mart).Set(float64(r.Finished.Unix()))
	}
}

// Failures is the failed-run counter of a mart and job (for tests).
func (m *Metrics) Failures(mart, job string) prometheus.Counter {
	return m.runs.WithLabelValues(mart, job, "failed")
}
