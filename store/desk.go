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
	// Names, MRNs and booked counts in one query per set, not per row.
	var patientIDs, courseIDs, projectIDs, staffIDs, roomIDs []int64
	for _, ap := range appts {
		patientIDs, projectIDs = append(patientIDs, ap.PatientID), append(projectIDs, ap.ProjectID)
	}
	for _, c := range courses {
		patientIDs, courseIDs, projectIDs = append(patientIDs, c.PatientID), append(courseIDs, c.ID), append(projectIDs, c.ProjectID)
	}
	names, err := db.column(ctx, "patient", "name", patientIDs)
	if err != nil {
		return nil, err
	}
	mrns, err := db.column(ctx, "patient", "mrn", patientIDs)
	if err != nil {
		return nil, err
	}
	booked := map[int64]int64{}
	if len(courseIDs) > 0 {
		if booked, err = db.countBy(ctx, "SELECT course_id, count(*) FROM appointment WHERE status IN (?, ?) AND course_id IN "+inList(courseIDs)+" GROUP BY course_id",
			append([]any{model.ApptBooked, model.ApptCheckedIn}, anys(courseIDs)...)...); err != nil {
			return nil, err
		}
	}
	for _, ap := range appts {
		d.Appointments = append(d.Appointments, model.DeskAppointment{Appointment: ap, PatientName: names[ap.PatientID], MRN: mrns[ap.PatientID]})
	}
	for _, c := range courses {
		d.Courses = append(d.Courses, model.DeskCourse{Course: c, PatientName: names[c.PatientID], MRN: mrns[c.PatientID], Booked: booked[c.ID]})
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
