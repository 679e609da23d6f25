// Package api is the go-chi HTTP layer: routing, middleware, the one table
// from domain error codes to HTTP statuses, and the operational endpoints
// (/healthz, /readyz, /metrics). Handlers are thin: they decode, call a model
// service, and encode. It imports model and the concrete store only through
// the interfaces it is given; nothing imports api but cmd.
package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zhiliao/zhiliao/interop/fhir"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/exports"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
)

// Pinger is what readiness needs from a store.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server holds the router's dependencies.
type Server struct {
	Backend Backend
	// Analytics serves the warehouse side (ETL runs, freshness); nil until
	// the service wires a warehouse.
	Analytics Analytics
	// OIDRoot is the hospital's OID: the FHIR identifier and code systems
	// of its MRNs, charge codes and HIS order numbers hang under it.
	OIDRoot string
	// Version is the service's version, as the CapabilityStatement says.
	Version string
	// ReplayInbound applies the HIS's dead letters again (the intake's
	// Replay); nil while no MLLP intake runs.
	ReplayInbound func(ctx context.Context) (replayed int, err error)
	// Exports runs export jobs; nil until the service wires it.
	Exports *exports.Manager
	// Pages are the dashboards, served under /dash when set.
	Pages http.Handler
	// Front are the front-line pages (the patient's phone page, the
	// waiting-room display), served under FrontPatterns when set.
	Front         http.Handler
	FrontPatterns []string
	// Rules are the rating rules the tables judge against; nil: the
	// embedded version.
	Rules    *reports.Rules
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Clients resolves client addresses (X-Forwarded-For only from trusted
	// proxies); Throttle limits login attempts per address and account,
	// shared with the dashboards' login form.
	Clients  *access.Clients
	Throttle *access.LoginThrottle
	// MetricsToken, when set, also serves /metrics on the main port to a
	// bearer of this token.
	MetricsToken string
	// Now is the service's clock: every "today" (default date ranges, the
	// dashboards' presets) is read from it, so tests can set the date.
	Now func() time.Time
	// ReplayWait is how long a resubmission waits for the response of a
	// claim whose write committed moments ago (idempotency.go); 0: 3 s.
	ReplayWait atomic.Int64 // nanoseconds

	ready     atomic.Bool
	extra     []route // test-only routes (benchmark baselines)
	cacheOnce sync.Once
	cache     *lru.Cache[string, *cached]
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
}

// Login throttle defaults: failed logins a minute from one client address,
// and at one account name (successful logins are not counted).
const (
	DefaultLoginsPerAddress = 20
	DefaultLoginsPerAccount = 10
)

// NewServer builds a server with its own metrics registry.
func NewServer(b Backend, logger *slog.Logger) *Server {
	clients := &access.Clients{}
	s := &Server{Backend: b, Logger: logger.With("component", "api"), Registry: prometheus.NewRegistry(), Clients: clients,
		Throttle: access.NewLoginThrottle(clients, DefaultLoginsPerAddress, DefaultLoginsPerAccount)}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zhiliao_http_requests_total",
		Help: "HTTP requests by route pattern, method and status."}, []string{"route", "method", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "zhiliao_http_request_seconds",
		Help: "HTTP request latency by route pattern.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"})
	s.Registry.MustRegister(s.requests, s.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s
}

// today is the current day in China time by the server's clock.
func (s *Server) today() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return now().In(model.Local)
}

// MetricsHandler serves the Prometheus metrics, for a listener of their own
// (--metrics-addr, loopback by default): they tell an outsider the load,
// the routes and the relay's lag, so they are not on the public port.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	return mux
}

// metricsWithToken serves the metrics on the main port to a scraper that
// sends the configured bearer token.
func (s *Server) metricsWithToken() http.Handler {
	h := promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := bearer(r)
		if subtle.ConstantTimeCompare([]byte(token), []byte(s.MetricsToken)) != 1 {
			writeError(w, r, model.Errorf(model.EUNAUTHORIZED, "需要监控令牌 (metrics token required)"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// SetReady marks the server ready once migrations ran and stores are open.
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// Handler returns the router.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, s.accessLog, middleware.Recoverer, middleware.Timeout(60*time.Second))
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", s.readyz)
	if s.MetricsToken != "" {
		// Otherwise /metrics is served only on its own (loopback) listener.
		r.Method(http.MethodGet, "/metrics", s.metricsWithToken())
	}
	if s.Exports != nil && s.Exports.OnFinish == nil {
		s.Exports.OnFinish = s.auditExport
	}
	s.mount(r)
	r.Get("/api/v1/openapi.json", s.openAPI)
	if s.Pages != nil {
		r.Handle("/dash/*", s.Pages)
		for _, p := range []string{"/", "/dash"} {
			r.Get(p, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/dash/", http.StatusFound) })
		}
	}
	if s.Front != nil {
		for _, p := range s.FrontPatterns {
			r.Handle(p, s.Front)
		}
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, model.Errorf(model.ENOTFOUND, "路径不存在 (no such route)"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &model.Error{Code: model.EBADMETHOD, Message: "不支持的请求方法 (method not allowed)"})
	})
	return r
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Backend.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
		return
	}
	// Serving the core does not wait for the marts; the answer says
	// whether they have been built once yet (a new service builds them in
	// its first minutes).
	resp := map[string]string{"status": "ready"}
	if s.Analytics != nil {
		resp["marts"] = "building"
		if built, all, err := martsBuilt(ctx, s.Analytics); err != nil {
			resp["marts"] = "unavailable"
		} else if built == all {
			resp["marts"] = "built"
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// accessLog logs each request and feeds the request metrics by route pattern
// (never the raw path, which would explode label cardinality).
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		s.requests.WithLabelValues(route, r.Method, strconv.Itoa(ww.Status())).Inc()
		s.latency.WithLabelValues(route).Observe(d.Seconds())
		s.Logger.Info("request", "method", r.Method, "route", route, "status", ww.Status(), "bytes", ww.BytesWritten(),
			"duration", d, "request_id", middleware.GetReqID(r.Context()))
	})
}

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[string]int{
	model.EINVALID:      http.StatusBadRequest,
	model.ENOTFOUND:     http.StatusNotFound,
	model.ECONFLICT:     http.StatusConflict,
	model.EUNAUTHORIZED: http.StatusUnauthorized,
	model.EFORBIDDEN:    http.StatusForbidden,
	model.EINTERNAL:     http.StatusInternalServerError,
	model.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	model.ERATELIMIT:    http.StatusTooManyRequests,
	model.EBADMETHOD:    http.StatusMethodNotAllowed,
	model.EUNAVAILABLE:  http.StatusServiceUnavailable,
	model.ELOCKED:       http.StatusLocked,
	model.EPWCHANGE:     http.StatusForbidden,
	model.ECSRF:         http.StatusForbidden,
}

type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Rule      string `json:"rule,omitempty"`
		Field     string `json:"field,omitempty"`
		RequestID string `json:"request_id,omitempty"`
	} `json:"error"`
}

// writeError writes {"error":{"code","message",...}} with the mapped status.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := model.ErrorCode(err)
	var se *fhir.Error
	if errors.As(err, &se) {
		code = model.EINVALID
	}
	if strings.HasPrefix(r.URL.Path, FHIRBase+"/") {
		// A FHIR client reads an OperationOutcome, whatever refused it.
		if code == model.EINTERNAL {
			slog.Error("internal error", "err", err, "path", r.URL.Path, "request_id", middleware.GetReqID(r.Context()))
		}
		writeOutcome(w, statusOf[code], code, err)
		return
	}
	var b errorBody
	b.Error.Code, b.Error.Message = code, model.ErrorMessage(err)
	b.Error.Rule, b.Error.Field = model.ErrorRule(err), model.ErrorField(err)
	b.Error.RequestID = middleware.GetReqID(r.Context())
	if code == model.EINTERNAL {
		slog.Error("internal error", "err", err, "path", r.URL.Path, "request_id", b.Error.RequestID)
	}
	writeJSON(w, statusOf[code], b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// jsonTo appends v as JSON without the encoder's trailing newline.
func jsonTo(buf *bytes.Buffer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}
