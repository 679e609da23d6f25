package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// Workstation is the signed-in clinician's tablet view of today: their
// department's queue, each ticket with its project, course progress,
// consent, session, photos, record and record form, and the department's
// rooms. Department scope is the queue's own.
func (db *DB) Workstation(ctx context.Context) (*model.Workstation, error) {
	a := model.ActorFrom(ctx)
	if a.Role != model.RoleClinician || a.StaffID == 0 {
		return nil, model.Errorf(model.EFORBIDDEN, "治疗工作站需以绑定了医护人员的治疗师账号登录 (clinician account bound to staff)")
	}
	me, err := getRow[model.Staff](ctx, db.q(ctx), a.StaffID)
	if err != nil {
		return nil, err
	}
	w := &model.Workstation{Today: db.today(), StaffID: me.ID, DeptID: me.DeptID, Rooms: []*model.Room{}, Tickets: []model.WorkTicket{},
		Templates: map[string][]model.RecordField{}}
	names, err := db.names(ctx, "department", []int64{me.DeptID})
	if err != nil {
		return nil, err
	}
	w.DeptName = names[me.DeptID]
	if w.Rooms, err = listRows[model.Room](ctx, db.q(ctx), "dept_id = ? ORDER BY code", me.DeptID); err != nil {
		return nil, err
	}
	entries, err := db.Queue(ctx, me.DeptID, w.Today)
	if err != nil {
		return nil, err
	}
	// A department's day is a few hundred tickets: each related set is
	// read in one query over the ids, not one query per ticket.
	var tickets, courseIDs, projectIDs []int64
	for _, e := range entries {
		if e.Status != model.TicketLeft {
			tickets, courseIDs, projectIDs = append(tickets, e.ID), append(courseIDs, e.CourseID), append(projectIDs, e.ProjectID)
		}
	}
	if err := db.intake(ctx, w); err != nil {
		return nil, err
	}
	if len(tickets) == 0 {
		return w, nil
	}
	projects, err := byID[model.Project](ctx, db, "id", projectIDs, func(p *model.Project) int64 { return p.ID })
	if err != nil {
		return nil, err
	}
	courses, err := byID[model.Course](ctx, db, "id", courseIDs, func(c *model.Course) int64 { return c.ID })
	if err != nil {
		return nil, err
	}
	sessions, err := byID[model.Session](ctx, db, "ticket_id", tickets, func(s *model.Session) int64 { return *s.TicketID })
	if err != nil {
		return nil, err
	}
	var sessionIDs []int64
	for _, s := range sessions {
		sessionIDs = append(sessionIDs, s.ID)
	}
	records, err := byID[model.Record](ctx, db, "session_id", sessionIDs, func(r *model.Record) int64 { return r.SessionID })
	if err != nil {
		return nil, err
	}
	courseIDs = slices.Compact(slices.Sorted(slices.Values(courseIDs)))
	consented, err := db.countBy(ctx, "SELECT course_id, count(*) FROM consent WHERE status = ? AND course_id IN "+inList(courseIDs)+" GROUP BY course_id",
		append([]any{model.ConsentSigned}, anys(courseIDs)...)...)
	if err != nil {
		return nil, err
	}
	surveys, err := db.surveysSent(ctx, courseIDs)
	if err != nil {
		return nil, err
	}
	var consentProjects []int64
	for _, p := range projects {
		if p.NeedsConsent {
			consentProjects = append(consentProjects, p.ID)
		}
	}
	consentTexts, err := db.currentConsentTemplates(ctx, consentProjects)
	if err != nil {
		return nil, err
	}
	images := map[int64]int64{}
	if len(sessionIDs) > 0 {
		if images, err = db.countBy(ctx, "SELECT session_id, count(*) FROM image WHERE session_id IN "+inList(sessionIDs)+" GROUP BY session_id", anys(sessionIDs)...); err != nil {
			return nil, err
		}
	}
	for _, e := range entries {
		if e.Status == model.TicketLeft {
			continue
		}
		t := model.WorkTicket{QueueEntry: e, Project: projects[e.ProjectID], Course: courses[e.CourseID], ConsentSigned: consented[e.CourseID] > 0,
			SurveySent: slices.ContainsFunc(surveys[e.CourseID], func(at time.Time) bool { return !at.Before(e.CheckedInAt) })}
		t.ConsentText = consentTexts[e.ProjectID]
		if t.Project == nil || t.Course == nil {
			return nil, model.Errorf(model.EINTERNAL, "ticket %d: project or course missing", e.ID)
		}
		if _, ok := w.Templates[t.Project.Category]; !ok {
			w.Templates[t.Project.Category] = model.RecordTemplate(t.Project.Category)
		}
		if t.Session = sessions[e.ID]; t.Session != nil {
			t.Images, t.Record = images[t.Session.ID], records[t.Session.ID]
			if t.Record != nil {
				t.RecordLines = model.RenderRecord(t.Project.Category, t.Record.Content)
			}
		}
		w.Tickets = append(w.Tickets, t)
	}
	return w, nil
}

// byID reads the rows of T whose column col is one of ids, keyed by key
// (the last row wins where several share a key: rows come in id order).
func byID[T any, PT interface {
	*T
	model.Entity
}](ctx context.Context, db *DB, col string, ids []int64, key func(PT) int64) (map[int64]PT, error) {
	out := map[int64]PT{}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := listRows[T, PT](ctx, db.q(ctx), col+" IN "+inList(ids)+" ORDER BY id", anys(ids)...)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[key(r)] = r
	}
	return out, nil
}

// countBy runs a query of (id, count) rows into a map.
func (db *DB) countBy(ctx context.Context, query string, args ...any) (map[int64]int64, error) {
	rows, err := db.q(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// surveysSent lists when each course's surveys were sent. The tablet's
// 满意度问卷已发送 is about this visit (a survey sent since the ticket's
// check-in), so the course's next visit can send the next one.
func (db *DB) surveysSent(ctx context.Context, courseIDs []int64) (map[int64][]time.Time, error) {
	rows, err := db.q(ctx).QueryContext(ctx, "SELECT course_id, sent_at FROM survey WHERE course_id IN "+inList(courseIDs), anys(courseIDs)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]time.Time{}
	for rows.Next() {
		var id int64
		var sent string
		if err := rows.Scan(&id, &sent); err != nil {
			return nil, err
		}
		at, err := parseTime(sent)
		if err != nil {
			return nil, err
		}
		out[id] = append(out[id], at)
	}
	return out, rows.Err()
}

// inList is "(?, ?, …)" for n ids.
func inList(ids []int64) string {
	return "(?" + strings.Repeat(", ?", len(ids)-1) + ")"
}

func anys(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// intake fills the workstation's work before the queue: the department's
// paid orders without an application, and its applications waiting for an
// initial assessment or a course plan.
func (db *DB) intake(ctx context.Context, w *model.Workstation) error {
	q := db.q(ctx)
	orders, err := listRows[model.Order](ctx, q, "dept_id = ? AND status = ? AND application_id IS NULL ORDER BY ordered_at, id LIMIT 200", w.DeptID, model.OrderPaid)
	if err != nil {
		return err
	}
	apps, err := listRows[model.Application](ctx, q, "dept_id = ? AND status IN (?, ?) ORDER BY applied_at, id LIMIT 200", w.DeptID, model.AppSubmitted, model.AppAssessed)
	if err != nil {
		return err
	}
	var patients, projects []int64
	for _, o := range orders {
		patients = append(patients, o.PatientID)
	}
	for _, a := range apps {
		patients, projects = append(patients, a.PatientID), append(projects, a.ProjectID)
	}
	names, err := db.names(ctx, "patient", patients)
	if err != nil {
		return err
	}
	mrns, err := db.column(ctx, "patient", "mrn", patients)
	if err != nil {
		return err
	}
	pnames, err := db.names(ctx, "project", projects)
	if err != nil {
		return err
	}
	w.Orders, w.Applications = []model.IntakeOrder{}, []model.IntakeApplication{}
	for _, o := range orders {
		w.Orders = append(w.Orders, model.IntakeOrder{Order: o, PatientName: names[o.PatientID], MRN: mrns[o.PatientID]})
	}
	for _, a := range apps {
		w.Applications = append(w.Applications, model.IntakeApplication{Application: a, PatientName: names[a.PatientID], ProjectName: pnames[a.ProjectID]})
	}
	return nil
}
