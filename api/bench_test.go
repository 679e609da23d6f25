package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

const benchClients = 16

// hammer runs n requests from benchClients concurrent clients and reports
// requests per second and the p99 latency.
func hammer(b *testing.B, n int, req func(client *http.Client, i int) (int, error)) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients}}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				code, err := req(client, i)
				lat[i] = time.Since(t0)
				if err != nil || code >= 300 {
					failed.Store(fmt.Sprintf("request %d: %d %v", i, code, err))
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
}

func post(client *http.Client, url, token string, body any) (int, []byte, error) {
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(j))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes(), nil
}

// benchSetup makes enough courses for n bookings (24 per course, each at a
// different slot time) and three rosters tomorrow of 24 slots × 100 places;
// slotFor spreads booking i so that no slot overfills (n ≤ 7200).
func benchSetup(b *testing.B, n int) (*fixture, []*model.Course, []*model.Slot) {
	return benchSetupOn(b, n, onPostgres)
}

// benchSetupOn is benchSetup with the core on PostgreSQL or SQLite.
func benchSetupOn(b *testing.B, n int, postgres bool) (*fixture, []*model.Course, []*model.Slot) {
	if n > 7200 {
		b.Fatalf("at most 7200 bookings, asked %d", n)
	}
	f := newFixtureOn(b, postgres)
	ctx := context.Background()
	courses := make([]*model.Course, (n+23)/24)
	err := f.db.Batch(ctx, func(ctx context.Context) error {
		for i := range courses {
			f.n++
			o, err := f.db.ReceiveOrder(ctx, model.OrderMessage{InstitutionID: f.inst.ID, MessageID: fmt.Sprintf("B%d", f.n), Action: model.HISNew,
				OrderNo: fmt.Sprintf("BX%06d", f.n), PatientMRN: fmt.Sprintf("BP%06d", f.n), PatientName: "压测患者", ProjectCode: f.plain.Code,
				Quantity: 24, VisitType: model.VisitOutpatient, DiagnosisCode: "M54.5", OrderedAt: day0, Paid: true})
			if err != nil {
				return err
			}
			app, err := f.db.CreateApplication(ctx, model.NewApplication{OrderIDs: []int64{o.ID}, AppliedBy: f.staffA.ID})
			if err != nil {
				return err
			}
			if _, err := f.db.AddAssessment(ctx, model.NewAssessment{ApplicationID: app.ID, Kind: "initial", Answers: map[string]string{"a": "1"}, AssessorID: f.staffA.ID}); err != nil {
				return err
			}
			if courses[i], err = f.db.PlanCourse(ctx, app.ID, f.staffA.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var slots []*model.Slot
	for _, shift := range []string{"am", "pm", "night"} {
		_, s, err := f.db.CreateRoster(ctx, model.NewRoster{DeptID: f.deptA.ID, StaffID: f.staffA.ID, RoomID: f.roomA.ID,
			Day: model.DayOf(day0.AddDate(0, 0, 1)), Shift: shift, Start: "07:00", End: "19:00", SlotMinutes: 30, Capacity: 100})
		if err != nil {
			b.Fatal(err)
		}
		slots = append(slots, s...)
	}
	return f, courses, slots
}

func slotFor(slots []*model.Slot, i int) int64 { return slots[i%24+24*(i/2400)].ID }

// BenchmarkBookingHTTP: bookings, then check-ins, over loopback from 16
// concurrent clients, each request its own transaction with outbox and audit.
//
//	go test ./api -run '^$' -bench HTTP -benchtime 4000x
func BenchmarkBookingHTTP(b *testing.B) {
	f, courses, slots := benchSetup(b, b.N)
	token := f.tokens[model.RoleFrontDesk]
	ids := make([]int64, b.N)
	hammer(b, b.N, func(c *http.Client, i int) (int, error) {
		code, body, err := post(c, f.srv.URL+"/api/v1/appointments", token,
			model.NewAppointment{CourseID: courses[i/24].ID, SlotID: slotFor(slots, i), Channel: model.ChannelOnsite})
		var a model.Appointment
		json.Unmarshal(body, &a)
		ids[i] = a.ID
		return code, err
	})
}

func BenchmarkCheckinHTTP(b *testing.B) {
	f, courses, slots := benchSetup(b, b.N)
	ctx := context.Background()
	ids := make([]int64, b.N)
	err := f.db.Batch(ctx, func(ctx context.Context) error {
		for i := range ids {
			a, err := f.db.BookAppointment(ctx, model.NewAppointment{CourseID: courses[i/24].ID, SlotID: slotFor(slots, i), Channel: model.ChannelOnsite})
			if err != nil {
				return err
			}
			ids[i] = a.ID
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	f.clock.Set(day0.AddDate(0, 0, 1).Add(-30 * time.Minute)) // 07:00 on the day; the desk's token is 23.5 h old
	token := f.login("u_"+model.RoleFrontDesk, password(model.RoleFrontDesk))
	hammer(b, b.N, func(c *http.Client, i int) (int, error) {
		code, _, err := post(c, fmt.Sprintf("%s/api/v1/appointments/%d/checkin", f.srv.URL, ids[i]), token, nil)
		return code, err
	})
}

// BenchmarkBookingInstancesPG: bookings over HTTP from 16 clients on one
// PostgreSQL core, served by one service instance and by two (the clients
// alternate between them). Both instances run in this process, each with
// its own store (connection pool) and HTTP server, as two serve processes
// would on one machine.
//
//	go test ./api -run '^$' -bench InstancesPG -benchtime 3000x
func BenchmarkBookingInstancesPG(b *testing.B) {
	testpg.ServerDSN(b)
	for _, instances := range []int{1, 2} {
		b.Run(fmt.Sprintf("instances=%d", instances), func(b *testing.B) {
			f, courses, slots := benchSetupOn(b, b.N, true)
			urls := []string{f.srv.URL}
			if instances == 2 {
				db, err := store.Open(context.Background(), f.where, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				db.Now, db.HIS = f.clock.Now, f.his
				s := api.NewServer(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
				s.Throttle = access.NewLoginThrottle(s.Clients, 1000, 1000)
				srv := httptest.NewServer(s.Handler())
				b.Cleanup(srv.Close)
				urls = append(urls, srv.URL)
			}
			token := f.tokens[model.RoleFrontDesk]
			hammer(b, b.N, func(c *http.Client, i int) (int, error) {
				code, _, err := post(c, urls[i%len(urls)]+"/api/v1/appointments", token,
					model.NewAppointment{CourseID: courses[i/24].ID, SlotID: slotFor(slots, i), Channel: model.ChannelOnsite})
				return code, err
			})
		})
	}
}
