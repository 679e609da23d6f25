package storetest

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/model"
)

// BenchmarkTransitions measures lifecycle transitions, each its own
// transaction, with the outbox and (as the baseline in the same run) without
// it. One op is one transaction: a booking (slot +1, appointment created,
// notices queued) or a cancellation (transition, slot −1), alternating.
//
//	go test ./store -run '^$' -bench Transitions -benchtime 20000x -count 3
func BenchmarkTransitions(b *testing.B) {
	for _, mode := range []struct {
		name   string
		outbox bool
	}{{"outbox", true}, {"no-outbox", false}} {
		b.Run(mode.name, func(b *testing.B) {
			e := newEnv(b)
			e.db.DisableOutbox = !mode.outbox
			const courses = 16
			cs := make([]*model.Course, courses)
			for i := range cs {
				cs[i], _ = e.course(e.plain, 20)
			}
			slots := e.slots(100)
			lat := make([]time.Duration, 0, b.N)
			var appt *model.Appointment
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				var err error
				if appt == nil {
					appt, err = e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: cs[i%courses].ID, SlotID: slots[i%len(slots)].ID, Channel: model.ChannelWechat})
				} else {
					_, err = e.db.CancelAppointment(e.ctx, appt.ID, "bench")
					appt = nil
				}
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkTransitionsEngines measures the same booking/cancellation
// transactions on SQLite and on PostgreSQL side by side, with one client and
// with 16 concurrent clients (each on its own course and its own day's
// slots, as bookings spread over a real schedule), the outbox on.
//
//	ZHILIAO_TEST_POSTGRES=… go test ./store -run '^$' -bench TransitionsEngines -benchtime 5s
func BenchmarkTransitionsEngines(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/clients=%d", engine, clients), func(b *testing.B) {
				if engine == "postgres" {
					testpg.ServerDSN(b)
				}
				e := newEnvOn(b, engine == "postgres")
				type lane struct {
					course *model.Course
					slots  []*model.Slot
				}
				lanes := make([]lane, clients)
				for i := range lanes {
					lanes[i].course, _ = e.course(e.plain, 20)
					e.clock.Set(day0.AddDate(0, 0, 1+i))
					lanes[i].slots = e.slots(100)
				}
				e.clock.Set(day0)
				var mu sync.Mutex
				lat := make([]time.Duration, 0, b.N)
				var next atomic.Int64
				b.ResetTimer()
				var wg sync.WaitGroup
				for c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						l := lanes[c]
						var appt *model.Appointment
						mine := make([]time.Duration, 0, b.N/clients+1)
						for i := 0; next.Add(1) <= int64(b.N); i++ {
							start := time.Now()
							var err error
							if appt == nil {
								appt, err = e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: l.course.ID, SlotID: l.slots[i%len(l.slots)].ID, Channel: model.ChannelWechat})
							} else {
								_, err = e.db.CancelAppointment(e.ctx, appt.ID, "bench")
								appt = nil
							}
							mine = append(mine, time.Since(start))
							if err != nil {
								b.Error(err)
								return
							}
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					}()
				}
				wg.Wait()
				b.StopTimer()
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}
