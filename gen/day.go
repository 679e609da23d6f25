package gen

import (
	"container/heap"
	"context"
	"fmt"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

type event struct {
	t   time.Time
	seq int64
	fn  func(ctx context.Context) error
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].t.Equal(q[j].t) {
		return q[i].seq < q[j].seq
	}
	return q[i].t.Before(q[j].t)
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any     { old := *q; e := old[len(old)-1]; *q = old[:len(old)-1]; return e }
func (q eventQueue) peek() *event  { return q[0] }

// hm returns day at hh:mm local time.
func hm(day time.Time, h, m int) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, model.Local)
}

// runDay simulates one day: morning rosters and reminders, the day's new
// orders, then every scheduled event of the day in time order.
func (g *generator) runDay(ctx context.Context, day time.Time) error {
	g.clock(hm(day, 6, 30))
	if err := g.closeOut(ctx); err != nil { // yesterday's leftovers, as the leader closes them
		return err
	}
	if err := g.roster(ctx, day.AddDate(0, 0, rosterHorizon)); err != nil {
		return err
	}
	for _, hs := range g.hosps {
		if _, err := g.db.QueueDeptReminders(ctx, hs.inst.ID, g.deptScope, day.Format("2006-01-02")); err != nil {
			return err
		}
		if err := g.followups(ctx, hs, day); err != nil {
			return err
		}
		for _, dp := range hs.depts {
			n := g.poisson(g.cfg.Preset.CoursesPerDay * weekdayFactor(day))
			for i := 0; i < n; i++ {
				// Orders arrive through clinic hours, peaking in the morning.
				minute := 8*60 + int(float64(8*60)*g.rng.Float64()*g.rng.Float64()*1.6)
				if minute > 17*60 {
					minute = 8*60 + g.pick(9*60)
				}
				dp := dp
				g.at(hm(day, minute/60, minute%60), func(ctx context.Context) error { return g.newCourse(ctx, dp) })
			}
		}
	}
	end := hm(day, 23, 59)
	for g.queue.Len() > 0 && !g.queue.peek().t.After(end) {
		ev := heap.Pop(&g.queue).(*event)
		g.clock(ev.t)
		if err := ev.fn(ctx); err != nil {
			return err
		}
	}
	g.clock(end)
	return g.deliverNotifications(ctx)
}

// refused reports whether err is a domain refusal the simulation expects now
// and then (a conflict); anything else stops the run.
func (g *generator) refused(err error) bool {
	if err != nil && model.ErrorCode(err) == model.ECONFLICT {
		g.stats.Refused++
		g.stats.RefusedBy[model.ErrorRule(err)]++
		return true
	}
	return false
}

// newCourse: a HIS order (mostly paid at once), the application, its
// assessment, the course plan and the first booking.
func (g *generator) newCourse(ctx context.Context, dp *dept) error {
	hs := dp.h
	pi := g.pick(len(dp.projects))
	p, pt := dp.projects[pi], dp.ptpl[pi]
	qty := pt.courseMin + int64(g.pick(int(pt.courseMax-pt.courseMin+1)))
	g.n++
	msg := model.OrderMessage{InstitutionID: hs.inst.ID, MessageID: fmt.Sprintf("MSG%s%08d", g.tag, g.n), Action: model.HISNew,
		OrderNo: fmt.Sprintf("%sRX%s%08d", hs.inst.Code, g.tag, g.n), ProjectCode: p.Code, Quantity: qty,
		VisitType: model.VisitOutpatient, OrderedBy: dp.staff[0].Code, OrderedAt: g.now}
	if g.chance(0.3) {
		msg.VisitType = model.VisitInpatient
	}
	dx := dp.tpl.diagnoses[g.pick(len(dp.tpl.diagnoses))]
	msg.DiagnosisCode, msg.DiagnosisName = dx[0], dx[1]
	if len(hs.pats) > 20 && g.chance(0.3) {
		pat := hs.pats[g.pick(len(hs.pats))]
		msg.PatientMRN = pat.MRN
	} else {
		msg.PatientMRN = fmt.Sprintf("%s%sMRN%07d", hs.inst.Code, g.tag, len(hs.pats)+1)
		msg.PatientName, msg.Gender, msg.BirthDate, msg.Phone, msg.IDNumber = g.demographics()
	}
	unpaid := g.chance(unpaidRate)
	msg.Paid = !unpaid && g.chance(0.85)
	o, err := g.db.ReceiveOrder(ctx, msg)
	if err != nil {
		return err
	}
	g.stats.Orders++
	if msg.PatientName != "" {
		pat, err := g.db.PatientByMRN(ctx, hs.inst.ID, msg.PatientMRN)
		if err != nil {
			return err
		}
		hs.pats = append(hs.pats, pat)
	}
	if unpaid { // never paid: the HIS cancels it after three days
		g.at(g.now.AddDate(0, 0, 3), func(ctx context.Context) error {
			g.n++
			_, err := g.db.ReceiveOrder(ctx, model.OrderMessage{InstitutionID: hs.inst.ID, MessageID: fmt.Sprintf("MSG%s%08d", g.tag, g.n),
				Action: model.HISCancel, OrderNo: o.OrderNo})
			return err
		})
		return nil
	}
	payAt := g.now
	if !msg.Paid { // paid at the cashier a little later
		payAt = g.now.Add(time.Duration(10+g.pick(110)) * time.Minute)
		g.at(payAt, func(ctx context.Context) error {
			g.n++
			_, err := g.db.ReceiveOrder(ctx, model.OrderMessage{InstitutionID: hs.inst.ID, MessageID: fmt.Sprintf("MSG%s%08d", g.tag, g.n),
				Action: model.HISPay, OrderNo: o.OrderNo})
			return err
		})
	}
	g.at(payAt.Add(time.Duration(5+g.pick(40))*time.Minute), func(ctx context.Context) error {
		return g.apply(ctx, dp, p, pt, o)
	})
	return nil
}

func (g *generator) apply(ctx context.Context, dp *dept, p *model.Project, pt projectTemplate, o *model.Order) error {
	clin := dp.staff[g.pick(len(dp.staff))]
	app, err := g.db.CreateApplication(ctx, model.NewApplication{OrderIDs: []int64{o.ID}, AppliedBy: clin.ID})
	if err != nil {
		return err
	}
	answers := map[string]string{"chief_complaint": o.DiagnosisName, "function": fmt.Sprint(20 + g.pick(70)), "pain_nrs": fmt.Sprint(g.pick(10))}
	score, sign := int64(20+g.pick(70)), g.chance(0.97)
	g.at(g.now.Add(time.Duration(5+g.pick(20))*time.Minute), func(ctx context.Context) error {
		if _, err := g.db.AddAssessment(ctx, model.NewAssessment{ApplicationID: app.ID, Kind: "initial", Answers: answers,
			Score: score, AssessorID: dp.staff[0].ID, Sign: sign}); err != nil {
			return err
		}
		return g.plan(ctx, dp, p, pt, o, app.ID)
	})
	return nil
}

func (g *generator) plan(ctx context.Context, dp *dept, p *model.Project, pt projectTemplate, o *model.Order, appID int64) error {
	c, err := g.db.PlanCourse(ctx, appID, dp.staff[0].ID)
	if err != nil {
		return err
	}
	g.stats.Courses++
	cs := &course{c: c, dept: dp, project: p, ptpl: pt, order: o}
	if dp.recent = append(dp.recent, cs); len(dp.recent) > 8 {
		dp.recent = dp.recent[1:]
	}
	if g.chance(abandonRate) {
		cs.abandonAt = 1 + int64(g.pick(int(c.PlannedSessions)))
	}
	return g.bookNext(ctx, cs, g.now)
}

// bookNext books the course's next session on the first day from `after`
// (plus the project's interval) that has a free slot, or sends the patient
// as a walk-in.
func (g *generator) bookNext(ctx context.Context, cs *course, after time.Time) error {
	// The project's interval lies between sessions; the first is booked
	// within days of the plan (a laser course does not wait four weeks to
	// begin).
	interval := cs.ptpl.interval
	if cs.c.DoneSessions == 0 {
		interval = min(interval, 2)
	}
	if g.chance(walkInRate) {
		day := after.AddDate(0, 0, interval)
		for weekdayFactor(day) < 1 {
			day = day.AddDate(0, 0, 1)
		}
		t := hm(day, 8+g.pick(8), g.pick(60))
		g.at(t, func(ctx context.Context) error { return g.walkIn(ctx, cs) })
		return nil
	}
	channel := []string{model.ChannelWechat, model.ChannelWechat, model.ChannelWechat, model.ChannelOnsite, model.ChannelOnsite,
		model.ChannelPhone, model.ChannelPad, model.ChannelKiosk}[g.pick(8)]
	for d := 0; d < 6; d++ {
		day := after.AddDate(0, 0, interval+d)
		if d == 0 && interval == 0 {
			day = after
		}
		slots, err := g.db.OpenSlots(ctx, cs.dept.d.ID, cs.project.ID, day.Format("2006-01-02"), g.now.Add(time.Hour), 8)
		if err != nil {
			return err
		}
		if len(slots) == 0 {
			continue
		}
		s := slots[g.pick(len(slots))]
		a, err := g.db.BookAppointment(ctx, model.NewAppointment{CourseID: cs.c.ID, SlotID: s.ID, Channel: channel})
		if g.refused(err) {
			if model.ErrorRule(err) == "patient.blacklisted" {
				channel = model.ChannelOnsite // the blacklist only bars self-booking
				d--
			}
			continue
		} else if err != nil {
			return err
		}
		g.stats.Appointments++
		if err := g.spoilAppointment(ctx, cs, a.ID); err != nil {
			return err
		}
		switch {
		case g.chance(cancelRate):
			g.at(g.now.Add(time.Duration(float64(a.PlannedAt.Sub(g.now))*g.rng.Float64()*0.8)), func(ctx context.Context) error {
				if _, err := g.db.CancelAppointment(ctx, a.ID, "患者时间冲突"); g.refused(err) || err != nil {
					return ignoreConflict(err)
				}
				g.stats.Cancels++
				return g.bookNext(ctx, cs, g.now)
			})
		case g.chance(g.rate(g.defects().NoShow, "no_show", cs.dept, a.PlannedAt)):
			// The patient does not come. Nobody marks it: the core's close-out
			// does once the grace after the slot has passed, as it would on a
			// real day; the patient then books the next session.
			g.at(s.EndAt.Add(cs.project.NoShowGrace()), func(ctx context.Context) error {
				if err := g.closeOut(ctx); err != nil {
					return err
				}
				return g.bookNext(ctx, cs, g.now)
			})
		default:
			arrive := a.PlannedAt.Add(-time.Duration(5+g.pick(20)) * time.Minute)
			g.at(arrive, func(ctx context.Context) error {
				tk, err := g.db.CheckIn(ctx, a.ID)
				if g.refused(err) {
					return nil
				} else if err != nil {
					return err
				}
				return g.treat(ctx, cs, tk, a.PlannedAt.Add(time.Duration(g.pick(15))*time.Minute), s.StaffID, s.RoomID)
			})
		}
		return nil
	}
	// No slot this week: come as a walk-in on the next working day.
	day := after.AddDate(0, 0, interval+6)
	g.at(hm(day, 9+g.pick(6), g.pick(60)), func(ctx context.Context) error { return g.walkIn(ctx, cs) })
	return nil
}

// closeOut runs the core's close-out over the generator's departments at
// the simulated clock, counting the no-shows it records.
func (g *generator) closeOut(ctx context.Context) error {
	res, err := g.db.CloseOut(ctx, 0, g.deptScope)
	g.stats.NoShows += res.NoShows
	return err
}

func ignoreConflict(err error) error {
	if model.ErrorCode(err) == model.ECONFLICT {
		return nil
	}
	return err
}

func (g *generator) walkIn(ctx context.Context, cs *course) error {
	tk, err := g.db.WalkIn(ctx, cs.c.ID)
	if g.refused(err) {
		return nil
	} else if err != nil {
		return err
	}
	g.stats.WalkIns++
	// Walk-ins wait longer in the queue.
	wait := time.Duration(10+g.pick(50)) * time.Minute
	return g.treat(ctx, cs, tk, g.now.Add(wait), cs.dept.staff[1%len(cs.dept.staff)].ID, cs.dept.rooms[g.pick(len(cs.dept.rooms))].ID)
}

// treat schedules the queue call, the start (with consent on the first
// session where needed), images, completion and the record's signature.
func (g *generator) treat(ctx context.Context, cs *course, tk *model.QueueTicket, start time.Time, staffID, roomID int64) error {
	g.at(start.Add(-2*time.Minute), func(ctx context.Context) error {
		_, err := g.db.CallTicket(ctx, tk.ID)
		return ignoreConflict(err)
	})
	g.at(start, func(ctx context.Context) error {
		if cs.project.NeedsConsent && !cs.consent {
			_, err := g.db.SignConsent(ctx, model.NewConsent{CourseID: cs.c.ID, TemplateID: cs.dept.consentText[cs.project.ID],
				SignerName: "患者本人", SignerRelation: "self",
				Signature: g.blob("sig", cs.c.ID), WitnessID: staffID})
			if err != nil {
				return err
			}
			cs.consent = true
		}
		s, err := g.db.StartSession(ctx, model.StartSession{TicketID: tk.ID, PerformerID: staffID, RoomID: roomID})
		if g.refused(err) {
			if model.ErrorRule(err) == "order.not_paid" { // refunded at the cashier: the course ends
				_, err := g.db.CancelCourse(ctx, cs.c.ID, "再次确费未通过，已退费")
				g.stats.CourseAbandoned++
				return ignoreConflict(err)
			}
			return nil
		} else if err != nil {
			return err
		}
		if cs.project.NeedsImages {
			if _, err := g.db.AddImage(ctx, model.NewImage{SessionID: s.ID, Phase: "before", ContentType: "image/png",
				Data: g.blob("before", s.ID), TakenBy: staffID}); err != nil {
				return err
			}
		}
		end := g.now.Add(time.Duration(cs.project.Minutes) * time.Minute)
		g.at(end, func(ctx context.Context) error { return g.complete(ctx, cs, s, staffID) })
		return nil
	})
	return nil
}

func (g *generator) complete(ctx context.Context, cs *course, s *model.Session, staffID int64) error {
	if cs.project.NeedsImages {
		if _, err := g.db.AddImage(ctx, model.NewImage{SessionID: s.ID, Phase: "after", ContentType: "image/png",
			Data: g.blob("after", s.ID), TakenBy: staffID}); err != nil {
			return err
		}
	}
	req := model.CompleteSession{SessionID: s.ID, Units: 1,
		RecordContent: fmt.Sprintf(`{"project":%q,"response":"%s","vas_after":%d}`, cs.project.Name, []string{"良好", "一般", "明显改善"}[g.pick(3)], g.pick(8))}
	if g.chance(adverseRate) {
		req.AdverseReaction = "局部皮肤发红，已处理"
	}
	_, rec, err := g.db.CompleteSession(ctx, req)
	if g.refused(err) {
		return nil
	} else if err != nil {
		return err
	}
	g.stats.Sessions++
	var other int64 // a plan of another patient in the department
	for _, o := range cs.dept.recent {
		if o.c.PatientID != cs.c.PatientID {
			other = o.c.ID
		}
	}
	if err := g.spoilExecution(ctx, cs, s.ID, rec.ID, other); err != nil {
		return err
	}
	// Most records are signed within the hour; some miss the 24 h deadline.
	delay := time.Duration(5+g.pick(90)) * time.Minute
	if g.chance(g.rate(g.defects().LateSign, "late_sign", cs.dept, g.now)) {
		delay = time.Duration(25+g.pick(72)) * time.Hour
	}
	g.at(g.now.Add(delay), func(ctx context.Context) error {
		_, err := g.db.SignRecord(ctx, rec.ID, staffID)
		return ignoreConflict(err)
	})
	if g.chance(complaintRate) {
		cid := cs.c.ID
		cp, err := g.db.FileComplaint(ctx, model.NewComplaint{PatientID: cs.c.PatientID, DeptID: cs.dept.d.ID, CourseID: &cid,
			Category: []string{"waiting", "attitude", "effect", "cost", "environment"}[g.pick(5)], Channel: []string{"electronic", "phone", "onsite"}[g.pick(3)],
			Content: "候诊时间较长，希望改进。"})
		if err != nil {
			return err
		}
		g.stats.Complaints++
		if g.chance(0.9) {
			g.at(g.now.Add(time.Duration(2+g.pick(70))*time.Hour), func(ctx context.Context) error {
				_, err := g.db.ReplyComplaint(ctx, cp.ID, cs.dept.staff[0].ID, "已核实并改进排班，感谢您的反馈。")
				return ignoreConflict(err)
			})
		}
	}
	// 诊后评价: a satisfaction survey after the visit, for half the sessions.
	if g.chance(0.5) {
		if err := g.survey(ctx, cs.dept, cs.c.ID); err != nil {
			return err
		}
	}
	if g.chance(reversalRate) {
		return g.reverse(ctx, cs)
	}
	c, err := g.db.Course(ctx, cs.c.ID)
	if err != nil {
		return err
	}
	cs.c = c
	switch {
	case c.Status == model.CourseCompleted:
		// Archive once the late records are in.
		g.at(g.now.AddDate(0, 0, 5), func(ctx context.Context) error {
			_, err := g.db.ArchiveCourse(ctx, c.ID)
			if model.ErrorRule(err) == "record.unsigned" {
				g.stats.Refused++
				return nil
			}
			return err
		})
	case cs.abandonAt > 0 && c.DoneSessions >= cs.abandonAt:
		if _, err := g.db.CancelCourse(ctx, c.ID, "患者放弃治疗"); err != nil {
			return err
		}
		g.n++
		if _, err := g.db.ReceiveOrder(ctx, model.OrderMessage{InstitutionID: c.InstitutionID, MessageID: fmt.Sprintf("MSG%s%08d", g.tag, g.n),
			Action: model.HISRefund, OrderNo: cs.order.OrderNo}); err != nil {
			return ignoreConflict(err)
		}
		g.stats.CourseAbandoned++
	default:
		return g.bookNext(ctx, cs, g.now)
	}
	return nil
}

// reverse stops a course after a session the patient disputes: the course is
// cancelled and the HIS refunds the unexecuted sessions (预交款退费) and the
// charge of the one just executed (冲减).
func (g *generator) reverse(ctx context.Context, cs *course) error {
	o, err := g.db.Order(ctx, cs.order.ID)
	if err != nil || o.Status != model.OrderPaid || o.UsedQuantity < 1 {
		return err
	}
	if _, err := g.db.CancelCourse(ctx, cs.c.ID, "患者对治疗效果有异议，终止疗程并退还本次费用"); err != nil {
		return ignoreConflict(err)
	}
	g.n++
	_, err = g.db.ReceiveOrder(ctx, model.OrderMessage{InstitutionID: o.InstitutionID, MessageID: fmt.Sprintf("MSG%s%08d", g.tag, g.n),
		Action: model.HISRefund, OrderNo: o.OrderNo, RefundFen: (o.Quantity - o.UsedQuantity + 1) * o.UnitPriceFen})
	g.stats.CourseAbandoned++
	return ignoreConflict(err)
}

// followups works the day's due follow-ups: most done on the day, some late
// and some missed, at the department's rates; by WeChat or SMS more often as
// the months go by (电子随访), by phone otherwise. Three in four send a
// satisfaction survey, electronic more often as the months go by, answered
// 0–7 days later by most patients.
func (g *generator) followups(ctx context.Context, hs *hospital, day time.Time) error {
	// A worker reads (and so, on PostgreSQL, locks) its own department's.
	due, err := g.db.FollowupsDueIn(ctx, hs.inst.ID, g.deptScope, day.Format("2006-01-02"))
	if err != nil {
		return err
	}
	d := g.defects()
	for _, f := range due {
		f := f
		dp := hs.deptByID(f.DeptID)
		if g.chance(g.rate(d.MissedFollowup, "missed_followup", dp, day)) {
			g.at(hm(day, 16, g.pick(60)), func(ctx context.Context) error {
				_, err := g.db.MissFollowup(ctx, f.ID)
				return ignoreConflict(err)
			})
			continue
		}
		when := hm(day, 9+g.pick(8), g.pick(60))
		if g.chance(g.rate(d.LateFollowup, "late_followup", dp, day)) {
			when = when.AddDate(0, 0, 1+g.pick(5))
		}
		g.at(when, func(ctx context.Context) error {
			g.stats.Followups++
			r := model.FollowupResult{DoneBy: dp.staff[0].ID, Result: []string{"恢复良好", "症状减轻", "无明显变化"}[g.pick(3)], Via: "phone"}
			if g.chance(g.electronicShare(d.ElectronicFollowup, "electronic_followup", dp)) {
				r.Via = []string{"wechat", "wechat", "sms"}[g.pick(3)]
			}
			if _, _, err := g.db.CompleteFollowup(ctx, f.ID, r); err != nil {
				return ignoreConflict(err)
			}
			if !g.chance(0.75) {
				return nil
			}
			return g.survey(ctx, dp, f.CourseID)
		})
	}
	return nil
}

// survey sends a satisfaction survey for a course, electronic at the
// department's share of the day (paper or phone otherwise), answered 0–7
// days later by most patients.
func (g *generator) survey(ctx context.Context, dp *dept, courseID int64) error {
	channel := []string{"paper", "phone"}[g.pick(2)]
	if g.chance(g.electronicShare(g.defects().ElectronicSurvey, "electronic_survey", dp)) {
		channel = "electronic"
	}
	sv, err := g.db.SendSurvey(ctx, courseID, channel)
	if err != nil {
		return err
	}
	g.stats.Surveys++
	if !g.chance(0.85) {
		return nil // never answered
	}
	g.at(g.now.Add(time.Duration(g.pick(8*24*60))*time.Minute), func(ctx context.Context) error {
		scores := map[string]int64{}
		base := int64(3 + g.pick(3))
		for _, dim := range model.SurveyDimensions {
			scores[dim] = max(base-int64(g.pick(2)), 1)
		}
		_, err := g.db.AnswerSurvey(ctx, sv.ID, scores, "")
		return ignoreConflict(err)
	})
	return nil
}

func (hs *hospital) deptByID(id int64) *dept {
	for _, d := range hs.depts {
		if d.d.ID == id {
			return d
		}
	}
	return hs.depts[0]
}

// deliverNotifications plays the channel adapter: most messages go out.
func (g *generator) deliverNotifications(ctx context.Context) error {
	for {
		ns, err := g.db.QueuedNotifications(ctx, 500)
		if g.part != nil { // a worker delivers its own patients' notices (parallel.go)
			ns, err = g.db.QueuedNotificationsOf(ctx, g.partBase, g.partBase+partitionSpan, 500)
		}
		if err != nil || len(ns) == 0 {
			return err
		}
		for _, n := range ns {
			ok := g.chance(0.97)
			if _, err := g.db.MarkNotification(ctx, n.ID, ok, map[bool]string{false: "用户未关注公众号"}[ok]); err != nil {
				return err
			}
		}
	}
}
