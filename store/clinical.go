package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// The clinical searches behind the FHIR routes: one kind's rows in the
// reader's scope (policy.ListScope: the institution, a department-bound
// reader's department; a patient only their own rows), filtered, ordered
// by the kind's time and paged, with the total the page is part of.

// clinicalScope is the scope conditions of a search over a table whose
// department is deptCol (empty: through its project).
func clinicalScope(ctx context.Context, deptCol string, hasPatient bool, q model.ClinicalQuery) ([]string, []any, error) {
	a := model.ActorFrom(ctx)
	l, err := policy.ListScope(a, q.DeptID)
	if err != nil {
		return nil, nil, err
	}
	where, args := []string{"institution_id = ?"}, []any{l.InstitutionID}
	if l.DeptID != 0 {
		if deptCol != "" {
			where, args = append(where, deptCol+" = ?"), append(args, l.DeptID)
		} else {
			where, args = append(where, "project_id IN (SELECT id FROM project WHERE dept_id = ?)"), append(args, l.DeptID)
		}
	}
	if hasPatient && policy.RoleOf(a).Reach == policy.ReachSelf {
		where, args = append(where, "patient_id = ?"), append(args, a.PatientID)
	}
	if q.PatientID != 0 {
		if !hasPatient {
			where = append(where, "1 = 0") // rows of no patient are no patient's
		} else {
			where, args = append(where, "patient_id = ?"), append(args, q.PatientID)
		}
	}
	if q.ID != 0 {
		where, args = append(where, "id = ?"), append(args, q.ID)
	}
	if q.Since != nil {
		where, args = append(where, "updated_at >= ?"), append(args, formatTime(*q.Since))
	}
	return where, args, nil
}

// searchClinical is the generic search: timeCol orders and bounds it.
func searchClinical[T any, PT interface {
	*T
	model.Entity
}](ctx context.Context, db *DB, q model.ClinicalQuery, deptCol, timeCol string) ([]PT, int, error) {
	var probe PT = new(T)
	tb := tableOf(probe)
	where, args, err := clinicalScope(ctx, deptCol, tb.patCol != nil, q)
	if err != nil {
		return nil, 0, err
	}
	// A day column (a roster's) compares as China days.
	bound := func(t time.Time) any {
		if timeCol == "day" {
			return model.DayOf(t)
		}
		return formatTime(t)
	}
	if q.From != nil {
		where, args = append(where, timeCol+" >= ?"), append(args, bound(*q.From))
	}
	if q.To != nil {
		op := " < ?"
		if timeCol == "day" {
			op, args = " <= ?", append(args, model.DayOf(q.To.Add(-time.Nanosecond)))
		} else {
			args = append(args, bound(*q.To))
		}
		where = append(where, timeCol+op)
	}
	if len(q.Statuses) > 0 {
		where = append(where, "status IN "+inList(make([]int64, len(q.Statuses))))
		for _, s := range q.Statuses {
			args = append(args, s)
		}
	}
	cond := strings.Join(where, " AND ")
	var total int
	table := tb.name
	if err := db.q(ctx).QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	order := " ORDER BY " + timeCol + ", id"
	if q.Desc {
		order = " ORDER BY " + timeCol + " DESC, id DESC"
	}
	rows, err := listRows[T, PT](ctx, db.q(ctx), cond+order+" LIMIT ? OFFSET ?", append(args, q.Limit, q.Offset)...)
	return rows, total, err
}

// SearchSessions searches treatment sessions (FHIR Procedure) by start time.
func (db *DB) SearchSessions(ctx context.Context, q model.ClinicalQuery) ([]*model.Session, int, error) {
	return searchClinical[model.Session](ctx, db, q, "dept_id", "started_at")
}

// SearchCourses searches courses of treatment (FHIR Encounter) by start.
func (db *DB) SearchCourses(ctx context.Context, q model.ClinicalQuery) ([]*model.Course, int, error) {
	return searchClinical[model.Course](ctx, db, q, "dept_id", "started_at")
}

// SearchSlots searches slots by their start.
func (db *DB) SearchSlots(ctx context.Context, q model.ClinicalQuery) ([]*model.Slot, int, error) {
	return searchClinical[model.Slot](ctx, db, q, "dept_id", "start_at")
}

// SearchRosters searches rosters (FHIR Schedule) by their day.
func (db *DB) SearchRosters(ctx context.Context, q model.ClinicalQuery) ([]*model.Roster, int, error) {
	return searchClinical[model.Roster](ctx, db, q, "dept_id", "day")
}

// SearchSurveys searches satisfaction surveys by when they were sent.
func (db *DB) SearchSurveys(ctx context.Context, q model.ClinicalQuery) ([]*model.Survey, int, error) {
	return searchClinical[model.Survey](ctx, db, q, "dept_id", "sent_at")
}

// SearchAppointments searches appointments by the time they were booked for.
func (db *DB) SearchAppointments(ctx context.Context, q model.ClinicalQuery) ([]*model.Appointment, int, error) {
	return searchClinical[model.Appointment](ctx, db, q, "dept_id", "planned_at")
}

// SearchOrders searches HIS orders by the time they were written.
func (db *DB) SearchOrders(ctx context.Context, q model.ClinicalQuery) ([]*model.Order, int, error) {
	return searchClinical[model.Order](ctx, db, q, "dept_id", "ordered_at")
}

// SearchConsents searches consents by the time they were signed (a
// department-bound reader: those of its department's projects).
func (db *DB) SearchConsents(ctx context.Context, q model.ClinicalQuery) ([]*model.Consent, int, error) {
	return searchClinical[model.Consent](ctx, db, q, "", "signed_at")
}

// PatientsPage is a page of the patients in the reader's scope, by id:
// of one department (those it treated), changed since a time (a bulk
// export).
func (db *DB) PatientsPage(ctx context.Context, q model.ClinicalQuery) ([]*model.Patient, error) {
	a := model.ActorFrom(ctx)
	l, err := policy.ListScope(a, q.DeptID)
	if err != nil {
		return nil, err
	}
	where, args := "institution_id = ? AND id > ?", []any{l.InstitutionID, q.ID}
	if l.DeptID != 0 {
		where += ` AND (EXISTS (SELECT 1 FROM course c WHERE c.patient_id = patient.id AND c.dept_id = ?)
 OR EXISTS (SELECT 1 FROM his_order o WHERE o.patient_id = patient.id AND o.dept_id = ?))`
		args = append(args, l.DeptID, l.DeptID)
	}
	if policy.RoleOf(a).Reach == policy.ReachSelf {
		where, args = where+" AND id = ?", append(args, a.PatientID)
	}
	if q.Since != nil {
		where, args = where+" AND updated_at >= ?", append(args, formatTime(*q.Since))
	}
	return listRows[model.Patient](ctx, db.q(ctx), where+" ORDER BY id LIMIT ?", append(args, q.Limit)...)
}

// PatientsByIdentifier finds the patients with an MRN, or a national ID
// (through the keyed index), in the reader's scope.
func (db *DB) PatientsByIdentifier(ctx context.Context, mrn, nationalID string) ([]*model.Patient, error) {
	a := model.ActorFrom(ctx)
	where, args := "institution_id = ?", []any{a.InstitutionID}
	switch {
	case nationalID != "":
		cond, cargs := db.sealedMatch("id_number", "id_number", nationalID)
		where, args = where+" AND "+cond, append(args, cargs...)
	default:
		where, args = where+" AND mrn = ?", append(args, mrn)
	}
	if policy.RoleOf(a).Reach == policy.ReachSelf {
		where, args = where+" AND id = ?", append(args, a.PatientID)
	}
	if policy.PatientsOfDepartment(a) {
		where += ` AND (EXISTS (SELECT 1 FROM course c WHERE c.patient_id = patient.id AND c.dept_id = ?)
 OR EXISTS (SELECT 1 FROM application x WHERE x.patient_id = patient.id AND x.dept_id = ?)
 OR EXISTS (SELECT 1 FROM his_order o WHERE o.patient_id = patient.id AND o.dept_id = ?))`
		args = append(args, a.DeptID, a.DeptID, a.DeptID)
	}
	return listRows[model.Patient](ctx, db.q(ctx), where+" ORDER BY id LIMIT 50", args...)
}

// Patient reads a patient in the reader's scope (another institution's, or
// one a department-bound reader's department never treated: not found).
func (db *DB) Patient(ctx context.Context, id int64) (*model.Patient, error) {
	p, err := scoped[model.Patient](ctx, db, id)
	if model.ErrorCode(err) == model.EFORBIDDEN {
		return nil, model.NotFound("患者", id)
	}
	return p, err
}

// Staff reads a member of staff of the reader's institution.
func (db *DB) Staff(ctx context.Context, id int64) (*model.Staff, error) {
	s, err := getRow[model.Staff](ctx, db.q(ctx), id)
	if err != nil || s.InstitutionID != model.ActorFrom(ctx).InstitutionID {
		return nil, model.NotFound("医务人员", id)
	}
	return s, nil
}

// Institution reads the reader's own institution (another: not found).
func (db *DB) Institution(ctx context.Context, id int64) (*model.Institution, error) {
	i, err := getRow[model.Institution](ctx, db.q(ctx), id)
	if err != nil || (i.ID != model.ActorFrom(ctx).InstitutionID && !policy.InstitutionVisible(model.ActorFrom(ctx), i.ID)) {
		return nil, model.NotFound("机构", id)
	}
	return i, nil
}

// SlotsByID and ProjectsByID read rows a search's results name, in one
// query each.
func (db *DB) SlotsByID(ctx context.Context, ids []int64) (map[int64]*model.Slot, error) {
	return byIDs[model.Slot](ctx, db, ids)
}

// ProjectsByID reads projects by id.
func (db *DB) ProjectsByID(ctx context.Context, ids []int64) (map[int64]*model.Project, error) {
	return byIDs[model.Project](ctx, db, ids)
}

// PatientsByID reads patients by id (the includes of a search whose
// matches are already in scope).
func (db *DB) PatientsByID(ctx context.Context, ids []int64) (map[int64]*model.Patient, error) {
	return byIDs[model.Patient](ctx, db, ids)
}

func byIDs[T any, PT interface {
	*T
	model.Entity
}](ctx context.Context, db *DB, ids []int64) (map[int64]PT, error) {
	out := map[int64]PT{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := listRows[T, PT](ctx, db.q(ctx), "id IN "+inList(ids)+" AND institution_id = ?", append(anys(ids), model.ActorFrom(ctx).InstitutionID)...)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	for _, r := range rows {
		out[model.GetMeta(r).ID] = r
	}
	return out, nil
}
