// Package gen builds the synthetic hospital of DESIGN.md §6 by driving the
// real lifecycle services of the store, day by simulated day, on a simulated
// clock. It owns the presets and the distributions (weekday peaks, morning
// clinics, courses of 5–20 sessions, no-shows, refunds, late records) and is
// deterministic for a seed: the same seed gives the same outbox, byte for byte.
package gen

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/zhiliao/zhiliao/gen/cashier"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// Preset is one size of synthetic hospital.
type Preset struct {
	Name          string
	Hospitals     int
	Departments   int // departments per hospital, from the catalogue
	Start         time.Time
	Days          int
	StaffPerDept  int
	RoomsPerDept  int
	Beds          int64   // capacity of each slot
	CoursesPerDay float64 // new courses per department per weekday
}

// Presets by name. Start dates are fixed (never the wall clock) so that a
// seed always gives the same data.
var Presets = map[string]Preset{
	// One laser treatment centre for three months, like the seed's pilot (219 treatments).
	"pilot": {Name: "pilot", Hospitals: 1, Departments: 1, Start: date(2026, 8, 24), Days: 91,
		StaffPerDept: 3, RoomsPerDept: 2, Beds: 1, CoursesPerDay: 2},
	// A mid-size treatment service: four departments for half a year, long
	// enough for courses to end and follow-ups to fall due (oracle tests).
	"clinic": {Name: "clinic", Hospitals: 1, Departments: 4, Start: date(2026, 1, 5), Days: 182,
		StaffPerDept: 4, RoomsPerDept: 2, Beds: 2, CoursesPerDay: 2},
	// A 3,000-bed tertiary hospital, 20 treatment departments, one year: ~500k sessions.
	"hospital": {Name: "hospital", Hospitals: 1, Departments: 20, Start: date(2025, 11, 24), Days: 364,
		StaffPerDept: 9, RoomsPerDept: 5, Beds: 2, CoursesPerDay: 9},
	// Ten such hospitals of a province: ~5M sessions (for ClickHouse).
	"region": {Name: "region", Hospitals: 10, Departments: 20, Start: date(2025, 11, 24), Days: 364,
		StaffPerDept: 9, RoomsPerDept: 5, Beds: 2, CoursesPerDay: 9},
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, model.Local) }

// Rates of the things that go differently from the plan.
const (
	cancelRate      = 0.04  // cancelled before the day
	walkInRate      = 0.12  // sessions taken as walk-ins instead of booked
	abandonRate     = 0.025 // courses stopped midway and the rest refunded
	unpaidRate      = 0.05  // orders never paid, cancelled by the HIS
	adverseRate     = 0.004
	reversalRate    = 0.01 // sessions after which the course stops and the HIS refunds that session's charge with the unused rest (冲减)
	complaintRate   = 0.004
	cashierRefundPm = 3 // per mille of paid orders the HIS reports refunded at re-check
)

// rosterHorizon is how many days ahead rosters (and so bookable slots)
// exist: long enough for a laser course's four-week interval.
const rosterHorizon = 35

// Config of one run.
type Config struct {
	Preset   Preset
	Seed     uint64
	Progress io.Writer // a progress line every few seconds; nil for none
	// Defects are the rates of spoiled data; nil: DefaultDefects.
	Defects *Defects
	// Institution, when set, makes the run one hospital of a region: the
	// preset's single hospital under this code and name, in a core whose
	// namespace is its number, so that its ids and seqs never meet another
	// hospital's in a regional warehouse (model.NamespaceBits).
	Institution *Institution
	// Parallel runs one worker per department at once (parallel.go), for a
	// core on PostgreSQL, where writers run side by side. The same seed gives
	// the same rows every time, whatever order the workers' commits take;
	// it is not the serial run's data.
	Parallel bool
	// Workers bounds how many departments run at once; 0: 8.
	Workers int
}

// Institution names the one hospital of a core that feeds a regional
// warehouse.
type Institution struct {
	Code   string
	Name   string // "" : the preset's name for it
	Number int64  // 1..model.MaxNamespace: the core's namespace
}

// Stats counts what a run did.
type Stats struct {
	Orders, Courses, Appointments, NoShows, Cancels, WalkIns, Sessions int
	Refused, CourseAbandoned, Followups, Surveys, Complaints           int
	RefusedBy                                                          map[string]int // rule → count
	Spoiled                                                            Spoiled        // units made to fail a rating rule
	Events                                                             int64
	Elapsed                                                            time.Duration
}

// Run generates the preset into db. db.Now and db.HIS are replaced by the
// simulated clock and a seeded HIS simulator for the run's duration.
func Run(ctx context.Context, db *store.DB, cfg Config) (*Stats, error) {
	g := &generator{db: db, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), stats: &Stats{RefusedBy: map[string]int{}, Spoiled: Spoiled{}},
		records: map[int64][]int64{}, baseRates: map[[2]string]float64{}}
	oldNow, oldHIS := db.Now, db.HIS
	db.Now = func() time.Time { return g.now }
	db.HIS = &cashier.Simulator{Status: db.OrderPaymentStatus, Seed: int64(cfg.Seed), RefundPermille: cashierRefundPm}
	defer func() { db.Now, db.HIS = oldNow, oldHIS }()
	began := time.Now()
	g.now = cfg.Preset.Start.Add(-24 * time.Hour)
	if in := cfg.Institution; in != nil {
		if cfg.Preset.Hospitals != 1 {
			return nil, model.Invalid("institution", "预设 %s 含 %d 家医院；指定机构时每个核心库只生成一家 (--institution makes one hospital per core: choose a one-hospital preset)", cfg.Preset.Name, cfg.Preset.Hospitals)
		}
		if err := db.SetNamespace(ctx, in.Number); err != nil {
			return nil, err
		}
	}
	if err := g.setup(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	if cfg.Parallel {
		if err := g.runParallel(ctx, began); err != nil {
			return nil, err
		}
		g.stats.Events = g.events(ctx)
		g.stats.Elapsed = time.Since(began)
		return g.stats, nil
	}
	lastProgress := time.Now()
	for d := 0; d < cfg.Preset.Days; d++ {
		day := cfg.Preset.Start.AddDate(0, 0, d)
		if d == cfg.Preset.Days/2 && g.defects().RenameProject {
			if err := g.renameProject(ctx); err != nil {
				return nil, fmt.Errorf("rename: %w", err)
			}
		}
		if err := db.Batch(ctx, func(ctx context.Context) error { return g.runDay(ctx, day) }); err != nil {
			return nil, fmt.Errorf("day %s: %w", day.Format("2006-01-02"), err)
		}
		if cfg.Progress != nil && (time.Since(lastProgress) > 2*time.Second || d == cfg.Preset.Days-1) {
			lastProgress = time.Now()
			fmt.Fprintf(cfg.Progress, "生成 gen %s: day %d/%d (%s) · 治疗 sessions %d · 事件 events %d · %.0fs\n",
				cfg.Preset.Name, d+1, cfg.Preset.Days, day.Format("2006-01-02"), g.stats.Sessions, g.events(ctx), time.Since(began).Seconds())
		}
	}
	g.stats.Events = g.events(ctx)
	g.stats.Elapsed = time.Since(began)
	return g.stats, nil
}

type hospital struct {
	inst  *model.Institution
	depts []*dept
	pats  []*model.Patient // registered patients, for returning visits
}

type dept struct {
	h        *hospital
	tpl      deptTemplate
	d        *model.Department
	staff    []*model.Staff
	rooms    []*model.Room
	projects []*model.Project
	ptpl     []projectTemplate
	recent   []*course // the latest courses started, for a plan of another patient
	// consentText is the consent text's revision in force, by project.
	consentText map[int64]int64
}

// course is the generator's memory of a course in progress.
type course struct {
	c         *model.Course
	dept      *dept
	project   *model.Project
	ptpl      projectTemplate
	order     *model.Order
	consent   bool
	abandonAt int64 // session number after which the patient stops; 0 = never
}

type generator struct {
	db    *store.DB
	cfg   Config
	rng   *rand.Rand
	now   time.Time
	hosps []*hospital
	queue eventQueue
	seq   int64
	stats *Stats
	n     int // running number for HIS message and order ids
	// records are the record ids written per project (for the dictionary
	// rename's spoiled units); renamed the projects renamed.
	records map[int64][]int64
	renamed []int64
	// baseRates are each department's drawn defect rates (rate).
	baseRates map[[2]string]float64

	// A worker of a parallel run (parallel.go): its index (0 also in the
	// serial run), the tag in its HIS message, order and MRN numbers (""
	// serially), its department (0: all), and its partition of the core
	// with the base of its id range (nil: none).
	worker    int
	tag       string
	deptScope int64
	part      *store.Partition
	partBase  int64
}

func (g *generator) events(ctx context.Context) int64 {
	n, _ := g.db.OutboxHead(ctx)
	return n - model.NamespaceBase(g.db.Namespace()) // seqs start in the core's namespace
}

// at schedules fn at time t; events run in time order, ties in scheduling order.
func (g *generator) at(t time.Time, fn func(ctx context.Context) error) {
	g.seq++
	heap.Push(&g.queue, &event{t: t, seq: g.seq, fn: fn})
}

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func (g *generator) pick(n int) int { return g.rng.IntN(n) }

// poisson draws from a Poisson distribution (Knuth; the means here are small).
func (g *generator) poisson(mean float64) int {
	if mean <= 0 {
		return 0
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= g.rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// clock moves the simulated clock to an event's time; it never runs
// backwards. Only the event loop moves it: a handler that needs time to pass
// schedules its next step as an event instead.
func (g *generator) clock(t time.Time) {
	if t.After(g.now) {
		g.now = t
	}
}

func (g *generator) setup(ctx context.Context) error {
	p := g.cfg.Preset
	for h := 0; h < p.Hospitals; h++ {
		hs := &hospital{inst: &model.Institution{Code: fmt.Sprintf("H%03d", h+1), Name: fmt.Sprintf("示例省第%s人民医院", cnNum(h+1)), Level: "三级甲等"}}
		if in := g.cfg.Institution; in != nil {
			hs.inst.Code = in.Code
			hs.inst.Name = cmp.Or(in.Name, fmt.Sprintf("示例省第%s人民医院", cnNum(int(in.Number))))
		}
		if err := g.db.CreateInstitution(ctx, hs.inst); err != nil {
			return err
		}
		tpls := departments
		if p.Name == "pilot" {
			tpls = []deptTemplate{departments[4]} // the laser centre
		}
		for i := 0; i < p.Departments; i++ {
			tpl := tpls[i%len(tpls)]
			dp := &dept{h: hs, tpl: tpl, d: &model.Department{Code: tpl.code, Name: tpl.name}, consentText: map[int64]int64{}}
			dp.d.InstitutionID = hs.inst.ID
			if err := g.db.CreateDepartment(ctx, dp.d); err != nil {
				return err
			}
			for s := 0; s < p.StaffPerDept; s++ {
				role := model.StaffTherapist
				if s == 0 {
					role = model.StaffDoctor
				} else if s%4 == 3 {
					role = model.StaffNurse
				}
				st := &model.Staff{DeptID: dp.d.ID, Code: fmt.Sprintf("%s%s%03d", hs.inst.Code, tpl.code, s+1), Name: g.name(),
					Role: role, Title: titles[g.pick(len(titles))], Active: true}
				st.InstitutionID = hs.inst.ID
				if err := g.db.CreateStaff(ctx, st); err != nil {
					return err
				}
				dp.staff = append(dp.staff, st)
			}
			for r := 0; r < p.RoomsPerDept; r++ {
				rm := &model.Room{DeptID: dp.d.ID, Code: fmt.Sprintf("%s-%d", tpl.code, r+1), Name: fmt.Sprintf("%s治疗%s室", tpl.name, cnNum(r+1)), Beds: p.Beds}
				rm.InstitutionID = hs.inst.ID
				if err := g.db.CreateRoom(ctx, rm); err != nil {
					return err
				}
				dp.rooms = append(dp.rooms, rm)
			}
			for _, pt := range tpl.projects {
				pr := &model.Project{DeptID: dp.d.ID, Code: pt.code, Name: pt.name, Category: pt.category, UnitPriceFen: pt.priceFen,
					Minutes: pt.minutes, CourseSessions: pt.courseMax, NeedsConsent: pt.consent, NeedsImages: pt.images,
					EMRScope: pt.emr, SmartScope: pt.smart, FollowupDays: pt.followup, AssessmentTemplate: pt.template,
					Precautions: pt.precautions, Active: true}
				pr.InstitutionID = hs.inst.ID
				if err := g.db.CreateProject(ctx, pr); err != nil {
					return err
				}
				if pt.consent {
					title, body := consentText(pt)
					ct, err := g.db.SaveConsentTemplate(ctx, model.NewConsentTemplate{ProjectID: pr.ID, Title: title, Body: body, Note: "首版"})
					if err != nil {
						return err
					}
					dp.consentText[pr.ID] = ct.ID
				}
				dp.projects = append(dp.projects, pr)
				dp.ptpl = append(dp.ptpl, pt)
			}
			hs.depts = append(hs.depts, dp)
		}
		g.hosps = append(g.hosps, hs)
	}
	// Rosters for the booking horizon; each day then adds the next day beyond it.
	return g.db.Batch(ctx, func(ctx context.Context) error {
		for d := 0; d < rosterHorizon; d++ {
			if err := g.roster(ctx, p.Start.AddDate(0, 0, d)); err != nil {
				return err
			}
		}
		return nil
	})
}

// weekdayFactor shapes demand and rosters: weekday peaks, quiet weekends.
func weekdayFactor(t time.Time) float64 {
	switch t.Weekday() {
	case time.Saturday:
		return 0.35
	case time.Sunday:
		return 0.15
	}
	return 1
}

// roster puts staff on the day's morning and afternoon clinics. Weekends run
// a reduced roster.
func (g *generator) roster(ctx context.Context, day time.Time) error {
	f := weekdayFactor(day)
	for _, hs := range g.hosps {
		for _, dp := range hs.depts {
			n := int(math.Ceil(float64(len(dp.staff)) * f))
			for i := 0; i < n && i < len(dp.rooms)*2; i++ {
				st, rm := dp.staff[i%len(dp.staff)], dp.rooms[i%len(dp.rooms)]
				for _, sh := range [][3]string{{"am", "08:00", "11:30"}, {"pm", "14:00", "17:00"}} {
					if i >= len(dp.rooms) && sh[0] == "pm" {
						continue // a room holds one clinic per half-day; extra staff work mornings
					}
					slotMin := int64(30)
					if dp.ptpl[0].minutes >= 120 {
						slotMin = 240 // dialysis runs in 4-hour shifts
						sh[1], sh[2] = map[string]string{"am": "07:30", "pm": "12:30"}[sh[0]], map[string]string{"am": "11:30", "pm": "16:30"}[sh[0]]
					}
					// Each clinic is for one project, rotating by day, so that
					// utilisation reads by project (never a 未指定 row).
					pid := dp.projects[(i+day.YearDay())%len(dp.projects)].ID
					_, _, err := g.db.CreateRoster(ctx, model.NewRoster{DeptID: dp.d.ID, StaffID: st.ID, RoomID: rm.ID, ProjectID: &pid,
						Day: day.Format("2006-01-02"), Shift: sh[0], Start: sh[1], End: sh[2], SlotMinutes: slotMin, Capacity: dp.rooms[0].Beds})
					if err != nil && model.ErrorRule(err) != "roster.duplicate" {
						return err
					}
				}
			}
		}
	}
	return nil
}
