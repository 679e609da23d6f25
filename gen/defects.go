package gen

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// Range is a rate drawn per department, uniformly between Min and Max.
type Range struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// Defects are how imperfect the generated data is, like a real hospital's
// first rating year: each department draws its own rate of each defect
// from the range (so some departments fail some items), and every rate
// falls month by month by Improvement (a rectification trend: 0.5 halves
// it over the run). Each rate can be overridden with `gen --defects FILE`.
type Defects struct {
	// LateSign: records signed after the 24 h deadline.
	LateSign Range `json:"late_sign"`
	// NoEndTime: executions that lost their end time (06.01.5 完整性).
	NoEndTime Range `json:"no_end_time"`
	// NameMismatch: records whose project name is not the dictionary's
	// (06.01.3 一致性), besides the records written before the one
	// dictionary rename of a run (RenameProject).
	NameMismatch Range `json:"name_mismatch"`
	// WrongPlan: executions that name another patient's plan (06.01.5 整合性).
	WrongPlan Range `json:"wrong_plan"`
	// BlankName: records whose patient name is only spaces (06.01.4 完整性).
	BlankName Range `json:"blank_name"`
	// NoShow: booked appointments the patient does not come to.
	NoShow Range `json:"no_show"`
	// Unplanned: appointments booked under a project the course's plan does
	// not prescribe (06.01.6 完整性: no planned project).
	Unplanned Range `json:"unplanned_appointment"`
	// MissedFollowup: follow-ups the patient could not be reached for;
	// LateFollowup: done 1–5 days after the due date.
	MissedFollowup Range `json:"missed_followup"`
	LateFollowup   Range `json:"late_followup"`
	// ElectronicFollowup and ElectronicSurvey are the shares of follow-ups
	// done by WeChat or SMS and of surveys sent electronically; they rise
	// over the run by Improvement of the distance to 1 (a rating year's
	// rollout of 电子随访 and 电子问卷).
	ElectronicFollowup Range `json:"electronic_followup"`
	ElectronicSurvey   Range `json:"electronic_survey"`
	// Improvement is the share by which every rate has fallen by the last
	// month of the run (0: no trend).
	Improvement float64 `json:"improvement"`
	// RenameProject renames one EMR-scope project half way through the run
	// (the dictionary rename of a real catalogue revision).
	RenameProject bool `json:"rename_project"`
}

// DefaultDefects are the rates the presets generate with (documented in
// README: 数据缺陷).
var DefaultDefects = Defects{
	LateSign:           Range{0.05, 0.15},
	NoEndTime:          Range{0.01, 0.03},
	NameMismatch:       Range{0.005, 0.02},
	WrongPlan:          Range{0.01, 0.03},
	BlankName:          Range{0.001, 0.004},
	NoShow:             Range{0.05, 0.15},
	Unplanned:          Range{0.005, 0.015},
	MissedFollowup:     Range{0.03, 0.08},
	LateFollowup:       Range{0.05, 0.15},
	ElectronicFollowup: Range{0.35, 0.7},
	ElectronicSurvey:   Range{0.3, 0.7},
	Improvement:        0.6,
	RenameProject:      true,
}

// LoadDefects reads a defects file over the defaults: a rate the file does
// not name keeps its default.
func LoadDefects(path string) (Defects, error) {
	d := DefaultDefects
	data, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("defects %s: %w", path, err)
	}
	for name, r := range map[string]Range{"late_sign": d.LateSign, "no_end_time": d.NoEndTime, "name_mismatch": d.NameMismatch,
		"wrong_plan": d.WrongPlan, "blank_name": d.BlankName, "no_show": d.NoShow, "missed_followup": d.MissedFollowup,
		"late_followup": d.LateFollowup, "unplanned_appointment": d.Unplanned, "electronic_followup": d.ElectronicFollowup, "electronic_survey": d.ElectronicSurvey} {
		if r.Min < 0 || r.Max > 1 || r.Min > r.Max {
			return d, fmt.Errorf("defects %s: %s wants 0 ≤ min ≤ max ≤ 1, got %v–%v", path, name, r.Min, r.Max)
		}
	}
	if d.Improvement < 0 || d.Improvement > 1 {
		return d, fmt.Errorf("defects %s: improvement wants 0–1, got %v", path, d.Improvement)
	}
	return d, nil
}

// rate is a department's rate of a defect on day: drawn once per
// department and defect from the range (by hash of the seed, department
// code and defect, so it does not disturb the run's random stream; kept in
// g.baseRates since it is asked for every session), then lowered linearly
// over the run by Improvement.
func (g *generator) rate(r Range, name string, dp *dept, day time.Time) float64 {
	key := [2]string{dp.tpl.code, name}
	base, ok := g.baseRates[key]
	if !ok {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s/%s", g.cfg.Seed, dp.tpl.code, name)
		base = r.Min + (r.Max-r.Min)*float64(h.Sum64()%1_000_000)/1_000_000
		g.baseRates[key] = base
	}
	return base * (1 - g.defects().Improvement*g.progress(day))
}

// progress is how far through the run day is, 0 on the first day to 1 on
// the last.
func (g *generator) progress(day time.Time) float64 {
	span := g.cfg.Preset.Days
	if span < 2 {
		return 0
	}
	p := day.Sub(g.cfg.Preset.Start).Hours() / 24 / float64(span-1)
	return min(max(p, 0), 1)
}

// electronicShare is a department's share of electronic follow-ups or
// surveys today: its drawn share, rising over the run by Improvement of the
// way to 1.
func (g *generator) electronicShare(r Range, name string, dp *dept) float64 {
	drawn := g.rate(r, name, dp, g.cfg.Preset.Start) // on the first day: no trend yet
	return 1 - (1-drawn)*(1-g.defects().Improvement*g.progress(g.now))
}

func (g *generator) defects() *Defects {
	if g.cfg.Defects != nil {
		return g.cfg.Defects
	}
	return &DefaultDefects
}

// Spoiled are the units the generator made fail a rating rule, by rule
// ("06.01.3/一致性") and then entity id: what a test compares with the
// data_quality mart's failing units.
type Spoiled map[string]map[int64]bool

func (s Spoiled) add(rule string, id int64) {
	if s[rule] == nil {
		s[rule] = map[int64]bool{}
	}
	s[rule][id] = true
}

// IDs are the spoiled ids of a rule, sorted.
func (s Spoiled) IDs(rule string) []int64 {
	out := make([]int64, 0, len(s[rule]))
	for id := range s[rule] {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// spoilExecution applies the execution and record defects to a just
// completed session and its record, as the department's rates of the day say.
func (g *generator) spoilExecution(ctx context.Context, cs *course, sessionID, recordID, otherCourse int64) error {
	d, dp := g.defects(), cs.dept
	if g.chance(g.rate(d.NoEndTime, "no_end_time", dp, g.now)) {
		if err := g.db.InjectDefect(ctx, store.DefectSessionNoEnd, sessionID, ""); err != nil {
			return err
		}
		g.stats.Spoiled.add("06.01.5/完整性", sessionID)
	}
	if otherCourse > 0 && g.chance(g.rate(d.WrongPlan, "wrong_plan", dp, g.now)) {
		// The other plan may already hold a session of the same number
		// (course, seq_no is unique): then this execution stays intact.
		switch err := g.db.InjectDefect(ctx, store.DefectSessionNoPlan, sessionID, fmt.Sprint(otherCourse)); {
		case model.ErrorCode(err) == model.ECONFLICT:
		case err != nil:
			return err
		default:
			g.stats.Spoiled.add("06.01.5/整合性", sessionID)
		}
	}
	if g.chance(g.rate(d.NameMismatch, "name_mismatch", dp, g.now)) {
		// Typed against an old catalogue, or abbreviated by a workstation.
		if err := g.db.InjectDefect(ctx, store.DefectRecordName, recordID, cs.project.Name+"治疗"); err != nil {
			return err
		}
		g.stats.Spoiled.add("06.01.3/一致性", recordID)
	}
	if g.chance(g.rate(d.BlankName, "blank_name", dp, g.now)) {
		if err := g.db.InjectDefect(ctx, store.DefectRecordBlank, recordID, []string{"\u3000", " ", "\u00a0\u3000 "}[g.pick(3)]); err != nil {
			return err
		}
		g.stats.Spoiled.add("06.01.4/完整性", recordID)
	}
	g.records[cs.project.ID] = append(g.records[cs.project.ID], recordID)
	return nil
}

// spoilAppointment books a just made appointment under another project of
// the department at the department's rate of the day, when it has one.
func (g *generator) spoilAppointment(ctx context.Context, cs *course, apptID int64) error {
	if len(cs.dept.projects) < 2 || !g.chance(g.rate(g.defects().Unplanned, "unplanned_appointment", cs.dept, g.now)) {
		return nil
	}
	other := cs.dept.projects[g.pick(len(cs.dept.projects))]
	if other.ID == cs.project.ID {
		other = cs.dept.projects[(slices.Index(cs.dept.projects, other)+1)%len(cs.dept.projects)]
	}
	if err := g.db.InjectDefect(ctx, store.DefectApptUnplanned, apptID, fmt.Sprint(other.ID)); err != nil {
		return err
	}
	if cs.project.EMRScope {
		g.stats.Spoiled.add("06.01.6/完整性", apptID)
	}
	return nil
}

// renameProject renames the first EMR-scope project of the first
// department: every record written before keeps the old name and so no
// longer agrees with the dictionary.
func (g *generator) renameProject(ctx context.Context) error {
	if g.worker > 0 {
		return nil // the first department's worker renames it (parallel.go)
	}
	for _, hs := range g.hosps {
		for _, dp := range hs.depts {
			for _, p := range dp.projects {
				if !p.EMRScope {
					continue
				}
				if _, err := g.db.RenameProject(ctx, p.ID, p.Name+"（2026版）"); err != nil {
					return err
				}
				for _, id := range g.records[p.ID] {
					g.stats.Spoiled.add("06.01.3/一致性", id)
				}
				g.renamed = append(g.renamed, p.ID)
				return nil
			}
		}
	}
	return nil
}
