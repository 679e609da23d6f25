package store

import (
	"context"

	"github.com/zhiliao/zhiliao/model"
)

// DeskDay is a department's day as the front desk works it, in scope: a
// department-bound account gets its own department whatever it asks for
// another (refused), and an institution-wide one the department it picks
// (the first when none). Day "" is today by the service's clock.
func (db *DB) DeskDay(ctx context.Context, deptID int64, day string) (*model.DeskDay, error) {
	a := model.ActorFrom(ctx)
	d := &model.DeskDay{Now: db.Now(), Today: db.today(), Day: day}
	if d.Day == "" {
		d.Day = d.Today
	}
	date, err := model.ParseDay("date", d.Day)
	if err != nil {
		return nil, err
	}
	depts, err := db.Departments(ctx, a.InstitutionID)
	if err != nil {
		return nil, err
	}
	for _, dp := range depts {
		if !a.DeptBound() || dp.ID == a.DeptID {
			d.Departments = append(d.Departments, dp)
		}
	}
	if deptID == 0 && len(d.Departments) > 0 {
		deptID = d.Departments[0].ID
	}
	cond, args, err := scopeFilter(ctx, deptID)
	if err != nil {
		return nil, err
	}
	d.DeptID = deptID
	q := db.q(ctx)
	// The local day in UTC, as the appointments' planned times are kept.
	from, to := formatTime(date.Add(-8*3600e9)), formatTime(date.Add(16*3600e9))
	appts, err := listRows[model.Appointment](ctx, q, cond+" AND planned_at >= ? AND planned_at < ? ORDER BY planned_at, id LIMIT 2000", append(args, from, to)...)
	if err != nil {
		return nil, err
	}
	if d.Queue, err = db.Queue(ctx, deptID, d.Day); err != nil {
		return nil, err
	}
	if d.Slots, err = listRows[model.Slot](ctx, q, cond+" AND day = ? ORDER BY start_at, id LIMIT 2000", append(args, d.Day)...); err != nil {
		return nil, err
	}
	courses, err := listRows[model.Course](ctx, q, cond+" AND status = ? AND done_sessions < planned_sessions ORDER BY id DESC LIMIT 300", append(args, model.CourseActive)...)
	if err != nil {
		return nil, err
	}
	patients := map[int64][2]string{}
	patient := func(id int64) ([2]string, error) {
		if p, ok := patients[id]; ok {
			return p, nil
		}
		var name, mrn string
		err := q.QueryRowContext(ctx, "SELECT name, mrn FROM patient WHERE id = ?", id).Scan(&name, &mrn)
		patients[id] = [2]string{name, mrn}
		return patients[id], err
	}
	var projectIDs, staffIDs, roomIDs []int64
	for _, ap := range appts {
		p, err := patient(ap.PatientID)
		if err != nil {
			return nil, err
		}
		d.Appointments = append(d.Appointments, model.DeskAppointment{Appointment: ap, PatientName: p[0], MRN: p[1]})
		projectIDs = append(projectIDs, ap.ProjectID)
	}
	for _, c := range courses {
		p, err := patient(c.PatientID)
		if err != nil {
			return nil, err
		}
		dc := model.DeskCourse{Course: c, PatientName: p[0], MRN: p[1]}
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM appointment WHERE course_id = ? AND status IN (?, ?)",
			c.ID, model.ApptBooked, model.ApptCheckedIn).Scan(&dc.Booked); err != nil {
			return nil, err
		}
		d.Courses = append(d.Courses, dc)
		projectIDs = append(projectIDs, c.ProjectID)
	}
	for _, s := range d.Slots {
		staffIDs, roomIDs = append(staffIDs, s.StaffID), append(roomIDs, s.RoomID)
		if s.ProjectID != nil {
			projectIDs = append(projectIDs, *s.ProjectID)
		}
	}
	for _, e := range d.Queue {
		projectIDs = append(projectIDs, e.ProjectID)
	}
	if d.Projects, err = db.names(ctx, "project", projectIDs); err != nil {
		return nil, err
	}
	if d.Staff, err = db.names(ctx, "staff", staffIDs); err != nil {
		return nil, err
	}
	d.Rooms, err = db.names(ctx, "room", roomIDs)
	return d, err
}
