package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/internal/testmarts"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse/duckdb"
)

// paced sends requests at a fixed rate for d from workers goroutines, each
// request at its scheduled time; a request's latency counts from when it was
// due, so a stalled server cannot hide its queue (no coordinated omission).
// It returns the achieved rate and the latencies, sorted.
func paced(b *testing.B, client *http.Client, url, token string, rate int, d time.Duration, workers int) (float64, []time.Duration) {
	n := int(float64(rate) * d.Seconds())
	lat := make([]time.Duration, n)
	interval := time.Second / time.Duration(rate)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				due := start.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(due))
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[i] = time.Since(due)
				if err != nil {
					failed.Store(err.Error())
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return float64(n) / elapsed.Seconds(), lat
}

// benchSite opens the data folder ZHILIAO_BENCH_DATA (core.db and a built
// warehouse.duckdb, e.g. the hospital preset after `zhiliao relay --once`
// and `zhiliao etl run --full`), or builds the pilot, and serves it with a
// department manager's token.
func benchSite(b *testing.B) (*api.Server, string, *etl.Runner) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var db *store.DB
	var whPath string
	if dir := os.Getenv("ZHILIAO_BENCH_DATA"); dir != "" {
		var err error
		if db, err = store.Open(ctx, filepath.Join(dir, "core.db"), store.Options{Logger: quiet}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		whPath = filepath.Join(dir, "warehouse.duckdb")
	}
	var runner *etl.Runner
	if whPath != "" {
		wh, err := duckdb.Open(ctx, whPath)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { wh.Close() })
		runner = &etl.Runner{Warehouse: wh, Logger: quiet}
	} else {
		site := testmarts.Pilot(b)
		db, runner = site.DB, site.Runner
	}
	insts, err := db.Institutions(ctx)
	if err != nil {
		b.Fatal(err)
	}
	depts, err := db.Departments(ctx, insts[0].ID)
	if err != nil {
		b.Fatal(err)
	}
	user := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	u := &model.User{InstitutionID: insts[0].ID, Username: user, Role: model.RoleDeptManager, DeptID: &depts[0].ID}
	if err := db.CreateUser(ctx, u, "bench-password"); err != nil {
		b.Fatal(err)
	}
	token, _, _, err := db.Login(ctx, user, "bench-password")
	if err != nil {
		b.Fatal(err)
	}
	s := api.NewServer(db, quiet)
	s.Analytics = runner
	return s, token, runner
}

// BenchmarkMartCached: a cached mart endpoint against a static,
// pre-serialized JSON route with the same body through the same router,
// middleware and token check, at the same request rate, side by side.
//
//	ZHILIAO_BENCH_DATA=/tmp/hospital ZHILIAO_BENCH_RATE=5000 go test ./api -run '^$' -bench MartCached -benchtime 1x
func BenchmarkMartCached(b *testing.B) {
	rate, seconds := 5000, 5
	if v, err := strconv.Atoi(os.Getenv("ZHILIAO_BENCH_RATE")); err == nil {
		rate = v
	}
	if v, err := strconv.Atoi(os.Getenv("ZHILIAO_BENCH_SECONDS")); err == nil {
		seconds = v
	}
	s, token, _ := benchSite(b)
	// A dashboard chart: one department's workload by day and staff member
	// over a month.
	path := "/api/v1/marts/workload?from=2026-10-01&to=2026-10-31&grain=day&group_by=staff&measures=sessions,patients,treatment_minutes"
	if p := os.Getenv("ZHILIAO_BENCH_PATH"); p != "" {
		path = p
	}
	probe := httptest.NewServer(s.Handler())
	req, _ := http.NewRequest("GET", probe.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		b.Fatal(resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	probe.Close()
	s.AddStaticRoute("/api/v1/static", body)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	workers := 64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	// Warm both routes (connections, the response cache) before measuring.
	paced(b, client, srv.URL+path, token, rate, time.Second, workers)
	paced(b, client, srv.URL+"/api/v1/static", token, rate, time.Second, workers)
	b.ResetTimer()
	var martP99, staticP99, martRate, staticRate []float64
	for round := 0; round < 2; round++ { // alternate, so drift on a noisy machine hits both
		r, lat := paced(b, client, srv.URL+"/api/v1/static", token, rate, time.Duration(seconds)*time.Second, workers)
		staticRate, staticP99 = append(staticRate, r), append(staticP99, float64(lat[len(lat)*99/100].Microseconds())/1000)
		r, lat = paced(b, client, srv.URL+path, token, rate, time.Duration(seconds)*time.Second, workers)
		martRate, martP99 = append(martRate, r), append(martP99, float64(lat[len(lat)*99/100].Microseconds())/1000)
	}
	b.StopTimer()
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	b.ReportMetric(float64(len(body)), "body-bytes")
	b.ReportMetric(mean(martRate), "mart-req/s")
	b.ReportMetric(mean(staticRate), "static-req/s")
	b.ReportMetric(mean(martP99), "mart-p99-ms")
	b.ReportMetric(mean(staticP99), "static-p99-ms")
	b.ReportMetric(mean(martP99)/mean(staticP99), "p99-ratio")
}
