package api_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// BenchmarkFHIRSearch: one patient's procedures with _include, searched by
// 16 clients at once on the pilot's core, side by side with the API's
// archive of the same patient in the same run: searches/s and the 99th
// percentile latency. Target (issue 32): p99 ≤ 50 ms and ≥ 1,000 searches/s.
//
//	go test ./api -run '^$' -bench FHIRSearch -benchtime 4000x -count 3
func BenchmarkFHIRSearch(b *testing.B) {
	f := newMartFixture(b)
	var patient int64
	var sessions int
	if err := f.db.QueryRowContext(b.Context(), "SELECT patient_id, count(*) FROM treatment_session GROUP BY patient_id ORDER BY count(*) DESC LIMIT 1").
		Scan(&patient, &sessions); err != nil {
		b.Fatal(err)
	}
	tok := f.tokens[model.RoleQualityOffice]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	run := func(b *testing.B, path string) {
		const clients = 16
		lat := make([]time.Duration, 0, b.N)
		var mu sync.Mutex
		next := make(chan struct{}, b.N)
		for range b.N {
			next <- struct{}{}
		}
		close(next)
		b.ResetTimer()
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				var mine []time.Duration
				for range next {
					req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					t0 := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("%s: %d", path, resp.StatusCode)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "searches/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Logf("patient %d, %d sessions", patient, sessions)
	b.Run("fhir-procedures-include", func(b *testing.B) {
		run(b, fmt.Sprintf("/fhir/r4/Procedure?patient=%d&_include=Procedure:patient", patient))
	})
	b.Run("api-archive", func(b *testing.B) { run(b, fmt.Sprintf("/api/v1/patients/%d/archive", patient)) })
}

// BenchmarkFHIRBulk: the pilot's whole export (every patient, order,
// appointment, session and consent as NDJSON) through the API, against the
// CDC relay's read of the core's outbox on the same core in the same run.
// Target (issue 32): ≥ 10,000 resources/s.
//
//	go test ./api -run '^$' -bench FHIRBulk -benchtime 3x -count 3
func BenchmarkFHIRBulk(b *testing.B) {
	f := newMartFixture(b)
	f.api.Exports.Dir = b.TempDir()
	tok := f.tokens[model.RoleQualityOffice]
	b.Run("fhir-bulk-export", func(b *testing.B) {
		var resources float64
		for range b.N {
			_, m := f.bulkExport(tok, "/fhir/r4/$export?_type=Patient,ServiceRequest,Appointment,Procedure,Consent")
			for _, o := range m["output"].([]any) {
				resources += o.(map[string]any)["count"].(float64)
			}
		}
		b.ReportMetric(resources/b.Elapsed().Seconds(), "resources/s")
	})
	b.Run("relay-outbox-read", func(b *testing.B) {
		var events float64
		for range b.N {
			var buf []model.ChangeEvent
			var after int64
			for {
				var err error
				buf, err = f.db.ReadOutbox(b.Context(), after, 5000, buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				if len(buf) == 0 {
					break
				}
				events += float64(len(buf))
				after = buf[len(buf)-1].Seq
			}
		}
		b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	})
}
