package store

import (
	"context"

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
	w := &model.Workstation{Today: db.today(), StaffID: me.ID, DeptID: me.DeptID, Rooms: []*model.Room{}, Tickets: []model.WorkTicket{}}
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
	projects := map[int64]*model.Project{}
	q := db.q(ctx)
	for _, e := range entries {
		if e.Status == model.TicketLeft {
			continue
		}
		t := model.WorkTicket{QueueEntry: e}
		if t.Project = projects[e.ProjectID]; t.Project == nil {
			if t.Project, err = getRow[model.Project](ctx, q, e.ProjectID); err != nil {
				return nil, err
			}
			projects[e.ProjectID] = t.Project
		}
		t.Template = model.RecordTemplate(t.Project.Category)
		if t.Course, err = getRow[model.Course](ctx, q, e.CourseID); err != nil {
			return nil, err
		}
		var consents int64
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM consent WHERE course_id = ? AND status = ?", e.CourseID, model.ConsentSigned).Scan(&consents); err != nil {
			return nil, err
		}
		t.ConsentSigned = consents > 0
		if s, err := findRow[model.Session](ctx, q, "ticket_id = ? ORDER BY id DESC LIMIT 1", e.ID); err == nil {
			t.Session = s
			if err := q.QueryRowContext(ctx, "SELECT count(*) FROM image WHERE session_id = ?", s.ID).Scan(&t.Images); err != nil {
				return nil, err
			}
			if r, err := findRow[model.Record](ctx, q, "session_id = ? ORDER BY id DESC LIMIT 1", s.ID); err == nil {
				t.Record = r
			} else if model.ErrorCode(err) != model.ENOTFOUND {
				return nil, err
			}
		} else if model.ErrorCode(err) != model.ENOTFOUND {
			return nil, err
		}
		w.Tickets = append(w.Tickets, t)
	}
	return w, nil
}
