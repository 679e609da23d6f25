package storetest

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/vault"
)

// BenchmarkSealed measures, side by side in one run, lifecycle transactions
// on a core that seals identity (SM4-GCM, blind indexes, masked payloads
// with an HMAC-SM3 pseudonym) and on one that stores and ships it clear:
//
//   - intake: a HIS order for a new patient (the patient row sealed, its
//     blind indexes written, its payload pseudonymised), then the patient
//     read back (opened);
//
//   - booking: a booking or a cancellation, alternating (no identity in it:
//     the cost there is the row layer's checks).
//
//     go test ./store -run '^$' -bench Sealed -benchtime 3000x -count 3
func BenchmarkSealed(b *testing.B) {
	for _, work := range []string{"intake", "booking"} {
		for _, sealed := range []bool{true, false} {
			name := work + "/clear"
			if sealed {
				name = work + "/sealed"
			}
			b.Run(name, func(b *testing.B) {
				var opt store.Options
				dir := b.TempDir()
				if sealed {
					m, err := vault.NewMaster(make([]byte, 32))
					if err != nil {
						b.Fatal(err)
					}
					opt.Master = m
				}
				opt.FilesDir = dir
				db, err := store.Open(context.Background(), filepath.Join(dir, "core.db"), opt)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				db.DisablePseudonyms = !sealed
				e := envOf(b, db)
				var c *model.Course
				var slots []*model.Slot
				if work == "booking" {
					c, _ = e.course(e.plain, 20)
					slots = e.slots(100)
				}
				lat := make([]time.Duration, 0, b.N)
				var appt *model.Appointment
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					start := time.Now()
					switch {
					case work == "intake":
						mrn := fmt.Sprintf("B%07d", i)
						_, err = db.ReceiveOrder(e.ctx, model.OrderMessage{InstitutionID: e.inst.ID, MessageID: "B" + mrn, Action: model.HISNew,
							OrderNo: "OB" + mrn, PatientMRN: mrn, PatientName: "王小明", Gender: "M", Phone: fmt.Sprintf("139%08d", i), IDNumber: testIDNumber,
							ProjectCode: e.plain.Code, Quantity: 1, VisitType: model.VisitOutpatient, DiagnosisCode: "M54.5", DiagnosisName: "腰痛",
							OrderedAt: e.clock.Now(), Paid: true})
						if err == nil {
							var p *model.Patient
							if p, err = db.PatientByMRN(e.ctx, e.inst.ID, mrn); err == nil && p.Phone != fmt.Sprintf("139%08d", i) {
								err = fmt.Errorf("read back %q", p.Phone)
							}
						}
					case appt == nil:
						appt, err = db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[i%len(slots)].ID, Channel: model.ChannelWechat})
					default:
						_, err = db.CancelAppointment(e.ctx, appt.ID, "bench")
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
}

// BenchmarkVerifyRecords measures `records verify`: signed records checked
// against their signers' SM2 public keys, on every core.
//
//	go test ./store -run '^$' -bench VerifyRecords -benchtime 3x
func BenchmarkVerifyRecords(b *testing.B) {
	m, err := vault.NewMaster(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dir, "core.db"), store.Options{FilesDir: dir, Master: m})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e := envOf(b, db)
	const per = 6 // a roster day has six slots
	for day := 0; day < 100; day++ {
		e.clock.Set(day0.AddDate(0, 0, day))
		e.signedRecords(per)
	}
	b.ResetTimer()
	var checked int64
	for i := 0; i < b.N; i++ {
		rep, err := db.VerifyRecords(e.ctx, time.Time{}, time.Time{}, nil)
		if err != nil || rep.ByState[store.SignatureValid] != rep.Checked {
			b.Fatal(rep, err)
		}
		checked += rep.Checked
	}
	b.ReportMetric(float64(checked)/b.Elapsed().Seconds(), "signatures/s")
}
