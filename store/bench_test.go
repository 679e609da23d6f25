package store_test

import (
	"sort"
	"testing"
	"time"

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
