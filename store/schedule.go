package store

import (
	"context"
	"fmt"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

var _ model.ScheduleService = (*DB)(nil)

// noShowWindow and noShowLimit set the booking blacklist: this many no-shows
// within the window bar electronic self-booking for blacklistDays.
const (
	noShowWindow  = 90 * 24 * time.Hour
	noShowLimit   = 3
	blacklistDays = 30
)

// CreateRoster creates a roster and cuts it into slots.
func (db *DB) CreateRoster(ctx context.Context, r model.NewRoster) (*model.Roster, []*model.Slot, error) {
	if err := r.Validate(); err != nil {
		return nil, nil, err
	}
	day, _ := time.ParseInLocation("2006-01-02", r.Day, model.Local)
	start, _ := time.Parse("15:04", r.Start)
	end, _ := time.Parse("15:04", r.End)
	from := day.Add(time.Duration(start.Hour())*time.Hour + time.Duration(start.Minute())*time.Minute)
	to := day.Add(time.Duration(end.Hour())*time.Hour + time.Duration(end.Minute())*time.Minute)
	step := time.Duration(r.SlotMinutes) * time.Minute
	var ro *model.Roster
	var slots []*model.Slot
	err := db.write(ctx, func(tx *Tx) error {
		staff, err := get[model.Staff](tx, r.StaffID)
		if err != nil {
			return model.Invalid("staff_id", "未知人员 %d", r.StaffID)
		}
		room, err := get[model.Room](tx, r.RoomID)
		if err != nil {
			return model.Invalid("room_id", "未知治疗室 %d", r.RoomID)
		}
		if staff.DeptID != r.DeptID || room.DeptID != r.DeptID {
			return model.Invalid("dept_id", "人员和治疗室必须属于排班科室 (staff and room must belong to the department)")
		}
		if r.ProjectID != nil {
			p, err := get[model.Project](tx, *r.ProjectID)
			if err != nil || p.DeptID != r.DeptID {
				return model.Invalid("project_id", "项目不属于该科室 (project of another department)")
			}
		}
		var dup int
		if err := tx.queryRow("SELECT COUNT(*) FROM roster WHERE staff_id = ? AND day = ? AND shift = ? AND status = 'open'",
			r.StaffID, r.Day, r.Shift).Scan(&dup); err != nil {
			return err
		}
		if dup > 0 {
			return model.Conflict("roster.duplicate", "该人员在 %s %s 已有排班 (staff already rostered)", r.Day, r.Shift)
		}
		ro = &model.Roster{DeptID: r.DeptID, StaffID: r.StaffID, RoomID: r.RoomID, ProjectID: r.ProjectID, Day: r.Day, Shift: r.Shift}
		ro.InstitutionID = staff.InstitutionID
		if err := tx.insert(ro); err != nil {
			return err
		}
		for t := from; !t.Add(step).After(to); t = t.Add(step) {
			s := &model.Slot{RosterID: ro.ID, DeptID: r.DeptID, StaffID: r.StaffID, RoomID: r.RoomID, ProjectID: r.ProjectID,
				Day: r.Day, StartAt: t.UTC(), EndAt: t.Add(step).UTC(), Capacity: r.Capacity}
			s.InstitutionID = ro.InstitutionID
			if err := tx.insert(s); err != nil {
				return err
			}
			slots = append(slots, s)
		}
		return nil
	})
	return ro, slots, err
}

// StopRoster stops a roster (停诊): its slots close and booked patients get a
// critical change notice with their appointment cancelled.
func (db *DB) StopRoster(ctx context.Context, rosterID int64, reason string) (*model.Roster, error) {
	var ro *model.Roster
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if ro, err = get[model.Roster](tx, rosterID); err != nil {
			return err
		}
		if err := tx.transition(ro, model.RosterStopped, reason); err != nil {
			return err
		}
		slots, err := listRows[model.Slot](tx.ctx, tx, "roster_id = ? AND status = 'open' ORDER BY id", ro.ID)
		if err != nil {
			return err
		}
		for _, s := range slots {
			if err := tx.transition(s, model.SlotClosed, "停诊"); err != nil {
				return err
			}
			appts, err := listRows[model.Appointment](tx.ctx, tx, "slot_id = ? AND status = 'booked' ORDER BY id", s.ID)
			if err != nil {
				return err
			}
			for _, a := range appts {
				if err := tx.cancelAppointment(a, "停诊: "+reason); err != nil {
					return err
				}
				msg := fmt.Sprintf("您 %s 的治疗预约因停诊取消（%s），请重新预约。", a.PlannedAt.In(model.Local).Format("01-02 15:04"), reason)
				if err := tx.notify(a.InstitutionID, a.PatientID, model.NotifyChange, true, "appointment", a.ID, msg); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return ro, err
}

// openDemand counts a course's sessions booked or queued but not yet done.
func (tx *Tx) openDemand(courseID int64) (int64, error) {
	var n int64
	err := tx.queryRow(`SELECT
 (SELECT COUNT(*) FROM appointment WHERE course_id = ? AND status IN ('booked', 'checked_in')) +
 (SELECT COUNT(*) FROM queue_ticket WHERE course_id = ? AND walk_in = 1 AND status IN ('waiting', 'called', 'in_treatment'))`,
		courseID, courseID).Scan(&n)
	return n, err
}

// paidLeft is the number of paid, unused sessions of a course's orders.
func (tx *Tx) paidLeft(c *model.Course) (int64, error) {
	var n int64
	err := tx.queryRow(`SELECT COALESCE(SUM(quantity - used_quantity), 0) FROM his_order
WHERE application_id = ? AND status = 'paid'`, c.ApplicationID).Scan(&n)
	return n, err
}

// requireBookable checks that a course can take one more booked or queued session.
func (tx *Tx) requireBookable(c *model.Course) error {
	if c.Status != model.CourseActive {
		return model.Conflict("course.not_active", "疗程状态为 %s，不能预约或排队 (course not active)", c.Status)
	}
	open, err := tx.openDemand(c.ID)
	if err != nil {
		return err
	}
	paid, err := tx.paidLeft(c)
	if err != nil {
		return err
	}
	if paid-open <= 0 {
		return model.Conflict("order.not_paid", "没有已缴费且未使用的治疗次数，不能预约或执行 (no paid sessions left)")
	}
	if c.PlannedSessions-c.DoneSessions-open <= 0 {
		return model.Conflict("course.sessions_exhausted", "疗程次数已全部预约 (all course sessions booked)")
	}
	return nil
}

// BookAppointment books one session of a course into a slot. Capacity is
// enforced by the guarded increment and, behind it, by the slot's CHECK.
func (db *DB) BookAppointment(ctx context.Context, r model.NewAppointment) (*model.Appointment, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var a *model.Appointment
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		a, err = tx.book(r)
		return err
	})
	return a, err
}

// book books one session of course r.CourseID into slot r.SlotID.
func (tx *Tx) book(r model.NewAppointment) (*model.Appointment, error) {
	c, err := get[model.Course](tx, r.CourseID)
	if err != nil {
		return nil, err
	}
	s, err := get[model.Slot](tx, r.SlotID)
	if err != nil {
		return nil, err
	}
	switch {
	case s.InstitutionID != c.InstitutionID || s.DeptID != c.DeptID:
		return nil, model.Conflict("slot.other_department", "号源不属于疗程所在科室 (slot of another department)")
	case s.ProjectID != nil && *s.ProjectID != c.ProjectID:
		return nil, model.Conflict("slot.other_project", "号源只接受其他治疗项目 (slot reserved for another project)")
	case s.Status != model.SlotOpen:
		return nil, model.Conflict("slot.closed", "号源已关闭或停诊 (slot closed)")
	case !s.StartAt.After(tx.now):
		return nil, model.Conflict("slot.past", "号源时间已过 (slot in the past)")
	}
	pat, err := get[model.Patient](tx, c.PatientID)
	if err != nil {
		return nil, err
	}
	if model.ElectronicChannel(r.Channel) && pat.BlacklistedUntil != nil && pat.BlacklistedUntil.After(tx.now) {
		return nil, model.Conflict("patient.blacklisted", "患者因多次爽约暂停线上预约至 %s (no-show blacklist)", model.DayOf(*pat.BlacklistedUntil))
	}
	if err := tx.requireBookable(c); err != nil {
		return nil, err
	}
	var same int
	if err := tx.queryRow(`SELECT COUNT(*) FROM appointment a JOIN slot s ON s.id = a.slot_id
WHERE a.patient_id = ? AND a.status IN ('booked', 'checked_in') AND s.start_at < ? AND s.end_at > ?`,
		c.PatientID, formatTime(s.EndAt), formatTime(s.StartAt)).Scan(&same); err != nil {
		return nil, err
	}
	if same > 0 {
		return nil, model.Conflict("appointment.overlap", "患者在该时段已有其他治疗预约 (overlapping appointment)")
	}
	if s.Booked >= s.Capacity {
		return nil, model.Conflict("slot.full", "号源已约满 (slot full: %d/%d)", s.Booked, s.Capacity)
	}
	s.Booked++
	if err := tx.update(s); err != nil {
		return nil, err
	}
	// The receipt number carries a value of the outbox sequence (or of the
	// writer's partition): unique and increasing without a counter row.
	n, err := tx.receiptNumber()
	if err != nil {
		return nil, err
	}
	a := &model.Appointment{PatientID: c.PatientID, CourseID: c.ID, SlotID: s.ID, DeptID: c.DeptID, ProjectID: c.ProjectID,
		Channel: r.Channel, PlannedAt: s.StartAt, BookedAt: tx.now,
		ReceiptNo: fmt.Sprintf("YY%s%08d", s.StartAt.In(model.Local).Format("060102"), n)}
	a.InstitutionID = c.InstitutionID
	if err := tx.insert(a); err != nil {
		return nil, err
	}
	p, err := get[model.Project](tx, c.ProjectID)
	if err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("您已预约 %s %s，请提前 10 分钟到科室签到。预约号 %s。", p.Name, s.StartAt.In(model.Local).Format("2006-01-02 15:04"), a.ReceiptNo)
	if err := tx.notify(a.InstitutionID, a.PatientID, model.NotifyAppointment, true, "appointment", a.ID, msg); err != nil {
		return nil, err
	}
	if p.Precautions != "" && c.DoneSessions == 0 {
		return a, tx.notify(a.InstitutionID, a.PatientID, model.NotifyPrecautions, false, "appointment", a.ID, p.Precautions)
	}
	return a, nil
}

func (tx *Tx) cancelAppointment(a *model.Appointment, reason string) error {
	wasBooked := a.Status == model.ApptBooked
	t := tx.now
	a.CancelledAt, a.CancelReason = &t, reason
	if err := tx.transition(a, model.ApptCancelled, reason); err != nil {
		a.CancelledAt, a.CancelReason = nil, ""
		return err
	}
	if !wasBooked { // checked in: leave the queue
		tk, err := findRow[model.QueueTicket](tx.ctx, tx, "appointment_id = ?", a.ID)
		if err != nil {
			return err
		}
		if tk.Status == model.TicketInTreatment {
			return model.Conflict("appointment.in_treatment", "治疗进行中，不能取消预约 (treatment in progress)")
		}
		if err := tx.transition(tk, model.TicketLeft, reason); err != nil {
			return err
		}
	}
	s, err := get[model.Slot](tx, a.SlotID)
	if err != nil {
		return err
	}
	s.Booked--
	return tx.update(s)
}

// CancelAppointment cancels a booked or checked-in appointment and frees its place.
func (db *DB) CancelAppointment(ctx context.Context, id int64, reason string) (*model.Appointment, error) {
	if len(reason) > 500 {
		return nil, model.Invalid("reason", "取消原因过长")
	}
	var a *model.Appointment
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if a, err = get[model.Appointment](tx, id); err != nil {
			return err
		}
		if err := tx.requireChangeable(a); err != nil {
			return err
		}
		return tx.cancelAppointment(a, reason)
	})
	return a, err
}

// MarkNoShow records that a patient did not come (the desk's 爽约登记,
// before the close-out would). Repeated no-shows put the patient on the
// booking blacklist (smart-service rating, level 3).
func (db *DB) MarkNoShow(ctx context.Context, id int64) (*model.Appointment, error) {
	var a *model.Appointment
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if a, err = get[model.Appointment](tx, id); err != nil {
			return err
		}
		if a.PlannedAt.After(tx.now) {
			return model.Conflict("appointment.not_due", "预约时间未到，不能记为爽约 (appointment not yet due)")
		}
		return tx.noShow(a, "no-show")
	})
	return a, err
}

// noShow marks a due booking a no-show: the patient's count and blacklist
// follow, and the slot's place is released, because 号源占用 counts the
// places patients used or still hold, and a no-show used none.
func (tx *Tx) noShow(a *model.Appointment, reason string) error {
	if err := tx.transition(a, model.ApptNoShow, reason); err != nil {
		return err
	}
	s, err := get[model.Slot](tx, a.SlotID)
	if err != nil {
		return err
	}
	s.Booked--
	if err := tx.update(s); err != nil {
		return err
	}
	p, err := get[model.Patient](tx, a.PatientID)
	if err != nil {
		return err
	}
	p.NoShowCount++
	var recent int
	if err := tx.queryRow("SELECT COUNT(*) FROM appointment WHERE patient_id = ? AND status = 'no_show' AND planned_at >= ?",
		p.ID, formatTime(tx.now.Add(-noShowWindow))).Scan(&recent); err != nil {
		return err
	}
	if recent >= noShowLimit {
		until := tx.now.AddDate(0, 0, blacklistDays)
		p.BlacklistedUntil = &until
	}
	return tx.update(p)
}

// requireChangeable refuses to cancel or move an appointment whose time has
// come: a booking from its slot's start on (the close-out makes it a no-show
// if the patient does not come), a checked-in one after its day (the
// close-out closes it), and, for the patient on the phone, a booking within
// the project's cut-off before its start.
func (tx *Tx) requireChangeable(a *model.Appointment) error {
	switch a.Status {
	case model.ApptBooked:
		if !tx.now.Before(a.PlannedAt) {
			return model.Conflict("appointment.started", "预约时段已于 %s 开始，不能取消或改约（未到的预约在日终记为爽约）",
				a.PlannedAt.In(model.Local).Format("2006-01-02 15:04"))
		}
		if tx.actor.Role == model.RolePatient {
			p, err := get[model.Project](tx, a.ProjectID)
			if err != nil {
				return err
			}
			if cut := p.SelfCancelCutoff(); a.PlannedAt.Sub(tx.now) < cut {
				return model.Conflict("appointment.self_cutoff", "距预约开始不足 %d 分钟，不能在手机上取消或改约，请致电科室",
					int(cut/time.Minute))
			}
		}
	case model.ApptCheckedIn:
		if model.DayOf(a.PlannedAt) < model.DayOf(tx.now) {
			return model.Conflict("appointment.started", "预约日 %s 已过，不能取消（日终已关闭）", model.DayOf(a.PlannedAt))
		}
	}
	return nil
}

// nextTicket opens a queue ticket with the department's next number of the day.
func (tx *Tx) nextTicket(c *model.Course, apptID *int64) (*model.QueueTicket, error) {
	day := model.DayOf(tx.now)
	var n int64
	if err := tx.queryRow("SELECT COALESCE(MAX(number), 0) + 1 FROM queue_ticket WHERE institution_id = ? AND dept_id = ? AND day = ?",
		c.InstitutionID, c.DeptID, day).Scan(&n); err != nil {
		return nil, err
	}
	tk := &model.QueueTicket{PatientID: c.PatientID, CourseID: c.ID, AppointmentID: apptID, DeptID: c.DeptID, ProjectID: c.ProjectID,
		Day: day, Number: n, WalkIn: apptID == nil, CheckedInAt: tx.now}
	tk.InstitutionID = c.InstitutionID
	return tk, tx.insert(tk)
}

// CheckIn checks a booked patient in on the day of the appointment and queues them.
func (db *DB) CheckIn(ctx context.Context, appointmentID int64) (*model.QueueTicket, error) {
	var tk *model.QueueTicket
	err := db.write(ctx, func(tx *Tx) error {
		a, err := get[model.Appointment](tx, appointmentID)
		if err != nil {
			return err
		}
		t := tx.now
		a.CheckedInAt = &t
		if err := tx.transition(a, model.ApptCheckedIn, "checkin"); err != nil {
			return err
		}
		if model.DayOf(a.PlannedAt) != model.DayOf(tx.now) {
			return model.Conflict("appointment.not_today", "只能在预约当天签到 (appointment is on %s)", model.DayOf(a.PlannedAt))
		}
		c, err := get[model.Course](tx, a.CourseID)
		if err != nil {
			return err
		}
		tk, err = tx.nextTicket(c, &a.ID)
		return err
	})
	return tk, err
}

// WalkIn queues a course patient who came without an appointment.
func (db *DB) WalkIn(ctx context.Context, courseID int64) (*model.QueueTicket, error) {
	var tk *model.QueueTicket
	err := db.write(ctx, func(tx *Tx) error {
		c, err := get[model.Course](tx, courseID)
		if err != nil {
			return err
		}
		var waiting int
		if err := tx.queryRow("SELECT COUNT(*) FROM queue_ticket WHERE course_id = ? AND status IN ('waiting', 'called', 'in_treatment')", c.ID).Scan(&waiting); err != nil {
			return err
		}
		if waiting > 0 {
			return model.Conflict("queue.already_queued", "患者已在治疗队列中 (already in the queue)")
		}
		if err := tx.requireBookable(c); err != nil {
			return err
		}
		tk, err = tx.nextTicket(c, nil)
		return err
	})
	return tk, err
}

// CallTicket calls the patient of a waiting ticket.
func (db *DB) CallTicket(ctx context.Context, ticketID int64) (*model.QueueTicket, error) {
	var tk *model.QueueTicket
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if tk, err = get[model.QueueTicket](tx, ticketID); err != nil {
			return err
		}
		t := tx.now
		tk.CalledAt = &t
		return tx.transition(tk, model.TicketCalled, "call")
	})
	return tk, err
}

// notify queues a notification for the patient's preferred channel.
func (tx *Tx) notify(institutionID, patientID int64, kind string, critical bool, refEntity string, refID int64, content string) error {
	n := &model.Notification{PatientID: patientID, Kind: kind, Channel: "wechat", Critical: critical, RefEntity: refEntity,
		RefID: refID, Content: content, QueuedAt: tx.now}
	n.InstitutionID = institutionID
	return tx.insert(n)
}

// RescheduleAppointment moves a booked appointment to another slot in one
// transaction (改约): the old place is freed and the new one booked under
// every booking rule, or, if the new booking is refused, nothing changes.
// A checked-in appointment is not moved: the patient is in the queue.
func (db *DB) RescheduleAppointment(ctx context.Context, id, slotID int64) (*model.Appointment, error) {
	if slotID <= 0 {
		return nil, model.Invalid("slot_id", "请选择新的号源 (slot_id is required)")
	}
	var moved *model.Appointment
	err := db.write(ctx, func(tx *Tx) error {
		a, err := get[model.Appointment](tx, id)
		if err != nil {
			return err
		}
		if a.Status != model.ApptBooked {
			return model.Conflict("appointment.not_booked", "只有已预约且未签到的预约可以改约 (only a booked appointment can be moved)")
		}
		if a.SlotID == slotID {
			return model.Conflict("appointment.same_slot", "新号源与原预约相同 (same slot)")
		}
		if err := tx.requireChangeable(a); err != nil {
			return err
		}
		if err := tx.cancelAppointment(a, "改约 rescheduled"); err != nil {
			return err
		}
		moved, err = tx.book(model.NewAppointment{CourseID: a.CourseID, SlotID: slotID, Channel: a.Channel})
		return err
	})
	return moved, err
}
