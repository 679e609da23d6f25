package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
	"github.com/zhiliao/zhiliao/vault"
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
		if !policy.DeptBound(a) || dp.ID == a.DeptID {
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
	if d.Precautions, err = db.column(ctx, "project", "precautions", projectIDs); err != nil {
		return nil, err
	}
	if d.Staff, err = db.names(ctx, "staff", staffIDs); err != nil {
		return nil, err
	}
	inst, err := db.names(ctx, "institution", []int64{a.InstitutionID})
	if err != nil {
		return nil, err
	}
	d.Institution = inst[a.InstitutionID]
	d.Rooms, err = db.names(ctx, "room", roomIDs)
	return d, err
}

// deskSearchLimit bounds the patients one search returns: a name typed by
// half is narrowed by typing on, not by paging.
const deskSearchLimit = 20

// SearchPatients finds the patients of a department for the front desk by
// what a caller says: a name (part of it), an MRN, the last four digits of
// a phone, a whole phone number or a national ID number. The sealed fields
// are found through their keyed indexes (the phone's last four through its
// suffix index, store/vault.go derivedIndexes), never by opening every
// row. Only patients the department treats or has treated are searched
// (a course, application or order there), each with the department's
// bookings still to come and its open courses.
func (db *DB) SearchPatients(ctx context.Context, deptID int64, query string) ([]model.DeskPatient, error) {
	q := strings.TrimSpace(query)
	n := utf8.RuneCountInString(q)
	if n == 0 || n > 30 || strings.ContainsFunc(q, func(r rune) bool { return r < 0x20 }) {
		return nil, model.Invalid("q", "请输入姓名、病案号、手机号后 4 位或完整手机号、身份证号（1–30 个字）")
	}
	cond, args, err := scopeFilter(ctx, deptID)
	if err != nil {
		return nil, err
	}
	a := model.ActorFrom(ctx)
	if policy.DeptBound(a) {
		deptID = a.DeptID
	}
	if deptID == 0 {
		return nil, model.Invalid("dept", "请选择科室 (dept is required)")
	}
	digits := strings.Trim(q, "0123456789") == ""
	var where string
	var whereArgs []any
	switch {
	case digits && len(q) == 4:
		where, whereArgs = db.sealedMatch("phone_tail", "phone", q)
	case digits && len(q) == 11:
		where, whereArgs = db.sealedMatch("phone", "phone", q)
	case model.ValidNationalID(strings.ToUpper(q)):
		where, whereArgs = db.sealedMatch("id_number", "id_number", strings.ToUpper(q))
	default:
		// An MRN exactly, or a part of a name ("王" finds 王小明 and 李王).
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%"
		where, whereArgs = `(mrn = ? OR name LIKE ? ESCAPE '\')`, []any{q, like}
	}
	patients, err := listRows[model.Patient](ctx, db.q(ctx), "institution_id = ? AND "+where+` AND (
 EXISTS (SELECT 1 FROM course c WHERE c.patient_id = patient.id AND c.dept_id = ?)
 OR EXISTS (SELECT 1 FROM application x WHERE x.patient_id = patient.id AND x.dept_id = ?)
 OR EXISTS (SELECT 1 FROM his_order o WHERE o.patient_id = patient.id AND o.dept_id = ?))
ORDER BY name, id LIMIT `+fmt.Sprint(deskSearchLimit), append(append([]any{a.InstitutionID}, whereArgs...), deptID, deptID, deptID)...)
	if err != nil {
		return nil, err
	}
	out := make([]model.DeskPatient, len(patients))
	if len(patients) == 0 {
		return out, nil
	}
	// The department's bookings from today on (what a caller cancels or
	// moves) and its open courses, for every patient found in one query each.
	ids := make([]int64, len(patients))
	at := map[int64]int{}
	for i, p := range patients {
		ids[i], at[p.ID] = p.ID, i
		out[i].Patient = p
	}
	midnight, _ := time.ParseInLocation("2006-01-02", db.today(), model.Local)
	appts, err := listRows[model.Appointment](ctx, db.q(ctx), cond+" AND patient_id IN "+inList(ids)+" AND status IN ('booked', 'checked_in') AND planned_at >= ? ORDER BY planned_at",
		append(append(slices.Clone(args), anys(ids)...), formatTime(midnight))...)
	if err != nil {
		return nil, err
	}
	for _, a := range appts {
		out[at[a.PatientID]].Appointments = append(out[at[a.PatientID]].Appointments, a)
	}
	courses, err := listRows[model.Course](ctx, db.q(ctx), cond+" AND patient_id IN "+inList(ids)+" AND status = ? ORDER BY id",
		append(append(slices.Clone(args), anys(ids)...), model.CourseActive)...)
	for _, c := range courses {
		out[at[c.PatientID]].Courses = append(out[at[c.PatientID]].Courses, c)
	}
	return out, err
}

// sealedMatch is the condition finding value in a sealed column, or (index
// phone_tail) a phone ending in value: through the keyed index when the
// core has keys, on the clear column otherwise (a core without keys keeps
// it in clear).
func (db *DB) sealedMatch(index, column, value string) (string, []any) {
	switch {
	case db.keyring() != nil:
		return index + "_bidx = ?", []any{db.keyring().BlindIndex(index, value)}
	case index == "phone_tail":
		return column + " LIKE ?", []any{"%" + value}
	}
	return "upper(replace(" + column + ", ' ', '')) = ?", []any{vault.Normalize(value)}
}

// PatientIdentities are the names and MRNs of the patients of ids that the
// reader may identify: those of its institution, and for a reader bound to
// a department those the department treats or has treated. A patient out
// of scope is left out (the caller shows it as the warehouse has it).
func (db *DB) PatientIdentities(ctx context.Context, ids []int64) (map[int64]model.PatientIdentity, error) {
	out := map[int64]model.PatientIdentity{}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return out, nil
	}
	a := model.ActorFrom(ctx)
	where, args := "institution_id = ? AND id IN "+inList(ids), append([]any{a.InstitutionID}, anys(ids)...)
	if policy.DeptBound(a) {
		where += ` AND (EXISTS (SELECT 1 FROM course c WHERE c.patient_id = patient.id AND c.dept_id = ?)
 OR EXISTS (SELECT 1 FROM application x WHERE x.patient_id = patient.id AND x.dept_id = ?)
 OR EXISTS (SELECT 1 FROM his_order o WHERE o.patient_id = patient.id AND o.dept_id = ?))`
		args = append(args, a.DeptID, a.DeptID, a.DeptID)
	}
	patients, err := listRows[model.Patient](ctx, db.q(ctx), where, args...)
	for _, p := range patients {
		out[p.ID] = model.PatientIdentity{Name: p.Name, MRN: p.MRN}
	}
	return out, err
}
