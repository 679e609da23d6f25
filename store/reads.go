package store

import (
	"context"
	"slices"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// Record returns a treatment record by id.
func (db *DB) Record(ctx context.Context, id int64) (*model.Record, error) {
	return getRow[model.Record](ctx, db.q(ctx), id)
}

// Appointment returns an appointment by id.
func (db *DB) Appointment(ctx context.Context, id int64) (*model.Appointment, error) {
	return getRow[model.Appointment](ctx, db.q(ctx), id)
}

// Slot returns a slot by id.
func (db *DB) Slot(ctx context.Context, id int64) (*model.Slot, error) {
	return getRow[model.Slot](ctx, db.q(ctx), id)
}

// Course returns a course by id.
func (db *DB) Course(ctx context.Context, id int64) (*model.Course, error) {
	return getRow[model.Course](ctx, db.q(ctx), id)
}

// OpenSlots lists bookable slots of a department on a day that start after
// `after`, for a project (slots reserved for other projects are left out).
func (db *DB) OpenSlots(ctx context.Context, deptID, projectID int64, day string, after time.Time, limit int) ([]*model.Slot, error) {
	return listRows[model.Slot](ctx, db.q(ctx), `dept_id = ? AND day = ? AND status = 'open' AND booked < capacity
AND (project_id IS NULL OR project_id = ?) AND start_at > ? ORDER BY start_at, id LIMIT ?`, deptID, day, projectID, formatTime(after), limit)
}

// FollowupsDue lists pending follow-ups of an institution due on a day.
func (db *DB) FollowupsDue(ctx context.Context, institutionID int64, day string) ([]*model.Followup, error) {
	return db.FollowupsDueIn(ctx, institutionID, 0, day)
}

// FollowupsDueIn is FollowupsDue for one department (0: all). Read inside a
// write transaction on PostgreSQL it locks what it returns, so a writer that
// works one department asks for that department's alone.
func (db *DB) FollowupsDueIn(ctx context.Context, institutionID, deptID int64, day string) ([]*model.Followup, error) {
	return listRows[model.Followup](ctx, db.q(ctx), "institution_id = ? AND (? = 0 OR dept_id = ?) AND due_date = ? AND status = 'pending' ORDER BY id",
		institutionID, deptID, deptID, day)
}

// QueuedNotifications lists notifications waiting for a channel adapter.
func (db *DB) QueuedNotifications(ctx context.Context, limit int) ([]*model.Notification, error) {
	return listRows[model.Notification](ctx, db.q(ctx), "status = 'queued' ORDER BY id LIMIT ?", limit)
}

// QueuedNotificationsOf lists the queued notifications of the patients whose
// ids lie in [lo, hi): a parallel generator's worker delivers its own.
func (db *DB) QueuedNotificationsOf(ctx context.Context, lo, hi int64, limit int) ([]*model.Notification, error) {
	return listRows[model.Notification](ctx, db.q(ctx), "status = 'queued' AND patient_id >= ? AND patient_id < ? ORDER BY id LIMIT ?", lo, hi, limit)
}

// scopeFilter returns SQL conditions and arguments restricting a list to the
// actor's institution and, for department-bound actors, department; a
// requested department outside that scope is refused.
func scopeFilter(ctx context.Context, deptID int64) (string, []any, error) {
	l, err := policy.ListScope(model.ActorFrom(ctx), deptID)
	if err != nil {
		return "", nil, err
	}
	cond, args := "institution_id = ?", []any{l.InstitutionID}
	if l.DeptID != 0 {
		cond += " AND dept_id = ?"
		args = append(args, l.DeptID)
	}
	return cond, args, nil
}

// Slots lists a day's slots of a department (and project), in scope.
func (db *DB) Slots(ctx context.Context, deptID, projectID int64, day string) ([]*model.Slot, error) {
	if _, err := model.ParseDay("date", day); err != nil {
		return nil, err
	}
	cond, args, err := scopeFilter(ctx, deptID)
	if err != nil {
		return nil, err
	}
	cond += " AND day = ?"
	args = append(args, day)
	if projectID != 0 {
		cond += " AND (project_id IS NULL OR project_id = ?)"
		args = append(args, projectID)
	}
	return listRows[model.Slot](ctx, db.q(ctx), cond+" ORDER BY start_at, id LIMIT 2000", args...)
}

// Queue lists a day's queue of a department, in scope, in number order.
func (db *DB) Queue(ctx context.Context, deptID int64, day string) ([]model.QueueEntry, error) {
	if _, err := model.ParseDay("date", day); err != nil {
		return nil, err
	}
	cond, args, err := scopeFilter(ctx, deptID)
	if err != nil {
		return nil, err
	}
	tickets, err := listRows[model.QueueTicket](ctx, db.q(ctx), cond+" AND day = ? ORDER BY number LIMIT 5000", append(args, day)...)
	if err != nil {
		return nil, err
	}
	// Patient names in one query rather than one per ticket.
	names, err := db.idText(ctx, `SELECT p.id, p.name FROM patient p WHERE p.id IN
 (SELECT patient_id FROM queue_ticket WHERE `+cond+` AND day = ?)`, append(args, day)...)
	if err != nil {
		return nil, err
	}
	out := make([]model.QueueEntry, len(tickets))
	for i, t := range tickets {
		out[i] = model.QueueEntry{QueueTicket: t, PatientName: names[t.PatientID]}
	}
	return out, nil
}

// ApplicationDetail loads an application in scope.
func (db *DB) ApplicationDetail(ctx context.Context, id int64) (*model.ApplicationDetail, error) {
	app, err := scoped[model.Application](ctx, db, id)
	if err != nil {
		return nil, err
	}
	d := &model.ApplicationDetail{Application: app}
	if d.Orders, err = listRows[model.Order](ctx, db.q(ctx), "application_id = ? ORDER BY id", id); err != nil {
		return nil, err
	}
	if d.Assessments, err = listRows[model.Assessment](ctx, db.q(ctx), "application_id = ? ORDER BY id", id); err != nil {
		return nil, err
	}
	c, err := findRow[model.Course](ctx, db.q(ctx), "application_id = ?", id)
	if err == nil {
		d.Course = c
	} else if model.ErrorCode(err) != model.ENOTFOUND {
		return nil, err
	}
	return d, nil
}

// PatientArchive loads a patient's archive; department-bound actors see only
// their department's courses.
func (db *DB) PatientArchive(ctx context.Context, patientID int64) (*model.PatientArchive, error) {
	p, err := scoped[model.Patient](ctx, db, patientID)
	if err != nil {
		return nil, err
	}
	cond, args, err := scopeFilter(ctx, 0)
	if err != nil {
		return nil, err
	}
	cond += " AND patient_id = ?"
	args = append(args, patientID)
	ar := &model.PatientArchive{Patient: p}
	if ar.Courses, err = listRows[model.Course](ctx, db.q(ctx), cond+" ORDER BY id", args...); err != nil {
		return nil, err
	}
	if ar.Sessions, err = listRows[model.Session](ctx, db.q(ctx), cond+" ORDER BY id", args...); err != nil {
		return nil, err
	}
	if ar.Records, err = listRows[model.Record](ctx, db.q(ctx), cond+" ORDER BY id", args...); err != nil {
		return nil, err
	}
	if ar.Signatures, err = db.RecordSignatures(ctx, ar.Records); err != nil {
		return nil, err
	}
	var projectIDs []int64
	for _, r := range ar.Records {
		projectIDs = append(projectIDs, r.ProjectID)
	}
	projects, err := byID[model.Project](ctx, db, "id", slices.Compact(slices.Sorted(slices.Values(projectIDs))), func(p *model.Project) int64 { return p.ID })
	if err != nil {
		return nil, err
	}
	ar.Rendered = map[int64][]model.RecordLine{}
	for _, r := range ar.Records {
		if p := projects[r.ProjectID]; p != nil {
			ar.Rendered[r.ID] = model.RenderRecord(p.Category, r.Content)
		}
	}
	// Consents carry no department: those of the courses in scope.
	var courseIDs []int64
	for _, c := range ar.Courses {
		courseIDs = append(courseIDs, c.ID)
	}
	var consents []*model.Consent
	if len(courseIDs) > 0 {
		if consents, err = listRows[model.Consent](ctx, db.q(ctx), "course_id IN "+inList(courseIDs)+" AND status <> 'pending' ORDER BY id", anys(courseIDs)...); err != nil {
			return nil, err
		}
	}
	ar.Consents, err = db.consentTexts(ctx, consents)
	return ar, err
}

// FollowupsInScope lists follow-ups due on a day, in scope.
func (db *DB) FollowupsInScope(ctx context.Context, due string) ([]*model.Followup, error) {
	if _, err := model.ParseDay("due", due); err != nil {
		return nil, err
	}
	cond, args, err := scopeFilter(ctx, 0)
	if err != nil {
		return nil, err
	}
	return listRows[model.Followup](ctx, db.q(ctx), cond+" AND due_date = ? ORDER BY id LIMIT 5000", append(args, due)...)
}

// complaintDays is how long after a treatment the patient's page still
// offers the department in the complaint form.
const complaintDays = 90

// PatientHome loads the link holder's own upcoming appointments, precautions
// and open surveys.
func (db *DB) PatientHome(ctx context.Context) (*model.PatientHome, error) {
	a := model.ActorFrom(ctx)
	if a.Role != model.RolePatient {
		return nil, model.Errorf(model.EFORBIDDEN, "仅限患者本人 (patient link only)")
	}
	h := &model.PatientHome{}
	var err error
	if h.Appointments, err = listRows[model.Appointment](ctx, db.q(ctx), "patient_id = ? AND status IN ('booked', 'checked_in') ORDER BY planned_at", a.PatientID); err != nil {
		return nil, err
	}
	if h.Precautions, err = listRows[model.Notification](ctx, db.q(ctx), "patient_id = ? AND kind IN ('precautions', 'change') ORDER BY id DESC LIMIT 20", a.PatientID); err != nil {
		return nil, err
	}
	if h.Surveys, err = listRows[model.Survey](ctx, db.q(ctx), "patient_id = ? AND status = 'sent' ORDER BY id", a.PatientID); err != nil {
		return nil, err
	}
	if h.Tickets, err = db.PatientTickets(ctx); err != nil {
		return nil, err
	}
	if h.Complaints, err = listRows[model.Complaint](ctx, db.q(ctx), "patient_id = ? ORDER BY id DESC LIMIT 20", a.PatientID); err != nil {
		return nil, err
	}
	if h.Notices, err = listRows[model.Notification](ctx, db.q(ctx), "patient_id = ? ORDER BY id DESC LIMIT 50", a.PatientID); err != nil {
		return nil, err
	}
	h.Today = db.today()
	var depts, projects []int64
	for _, ap := range h.Appointments {
		depts, projects = append(depts, ap.DeptID), append(projects, ap.ProjectID)
	}
	for _, sv := range h.Surveys {
		depts, projects = append(depts, sv.DeptID), append(projects, sv.ProjectID)
	}
	// The complaint form offers every department that treats the patient
	// now or did in the last 90 days: someone treated this morning, with no
	// booking left and no survey yet, can still complain.
	treated, err := db.int64s(ctx, `SELECT DISTINCT s.dept_id FROM course c JOIN treatment_session s ON s.course_id = c.id
WHERE c.patient_id = ? AND s.started_at >= ?`, // through the patient's courses: sessions have no index by patient
		a.PatientID, formatTime(db.nowFor(ctx).AddDate(0, 0, -complaintDays)))
	if err != nil {
		return nil, err
	}
	h.ComplaintDepts = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(depts), treated...))))
	for _, c := range h.Complaints {
		depts = append(depts, c.DeptID)
	}
	if h.Departments, err = db.names(ctx, "department", append(depts, treated...)); err != nil {
		return nil, err
	}
	if h.Projects, err = db.names(ctx, "project", projects); err != nil {
		return nil, err
	}
	var apptProjects []int64
	for _, ap := range h.Appointments {
		apptProjects = append(apptProjects, ap.ProjectID)
	}
	h.ConsentTexts, err = db.currentConsentTemplates(ctx, slices.Compact(slices.Sorted(slices.Values(apptProjects))))
	return h, err
}
