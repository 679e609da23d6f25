package store

import (
	"context"
	"reflect"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// Scope is enforced here, in the store, on every row a service loads or
// creates, so that no handler can forget it: an actor sees only its own
// institution, a department-bound actor only its own department, and a
// patient only its own rows. Rows of another institution are reported as not
// found, so their existence does not leak.
func checkScope(a model.Actor, e model.Entity) error {
	tb := tableOf(e)
	m := model.GetMeta(e)
	row := policy.Row{InstitutionID: m.InstitutionID}
	v := reflect.ValueOf(e).Elem()
	if tb.deptCol != nil {
		row.DeptID = v.FieldByIndex(tb.deptCol).Int()
	}
	if tb.patCol != nil {
		row.PatientID, row.HasPatient = v.FieldByIndex(tb.patCol).Int(), true
	}
	if p, ok := e.(*model.Patient); ok {
		row.PatientID, row.HasPatient = p.ID, true
	}
	return policy.CheckRow(a, row, model.EntityLabel(e.EntityName()), m.ID)
}

// catalogue are the entities an administrator may write: the dictionary of
// the hospital, not its patients' data.
var catalogue = map[string]bool{"institution": true, "department": true, "staff": true, "room": true, "project": true}

// checkWriter refuses a write of clinical data by one of the three
// administrators (三权分立: they keep the system, never the records).
func checkWriter(a model.Actor, e model.Entity) error {
	if policy.Administrator(a) && !catalogue[e.EntityName()] {
		return model.Errorf(model.EFORBIDDEN, "管理员角色 %s 不能写入临床数据 (administrators may not write %s)", a.Role, e.EntityName())
	}
	return nil
}

// self checks that the person a clinical act names (field: signer,
// performer, witness, assessor, planner…) is the signed-in account's own
// staff record. Identity comes from the session: nobody signs or performs
// in a colleague's name. The system actor (generator, command line) acts
// for whom it says.
func (tx *Tx) self(field string, staffID int64) error {
	a := tx.actor
	if a.Role == model.RoleSystem {
		return nil
	}
	if a.StaffID == 0 {
		return model.Invalid(field, "当前账号未绑定医护人员，不能执行临床操作 (account has no staff record)")
	}
	if staffID != a.StaffID {
		return model.Invalid(field, "%s 必须是当前登录人员本人 (must be the signed-in clinician)", field)
	}
	return nil
}

// patientInScope checks a department-bound actor's right to a patient: its
// department has treated or is treating them (an order, application or
// course there). Hospital-wide roles keep their scope; a patient sees only
// themselves (checkScope).
func patientInScope(ctx context.Context, db *DB, a model.Actor, patientID int64) error {
	if !policy.PatientsOfDepartment(a) {
		return nil
	}
	var one int
	err := db.q(ctx).QueryRowContext(ctx, `SELECT 1 WHERE EXISTS (SELECT 1 FROM course WHERE patient_id = ?1 AND dept_id = ?2)
 OR EXISTS (SELECT 1 FROM application WHERE patient_id = ?1 AND dept_id = ?2)
 OR EXISTS (SELECT 1 FROM his_order WHERE patient_id = ?1 AND dept_id = ?2)`, patientID, a.DeptID).Scan(&one)
	if err != nil {
		// Reported as not found: a patient's existence does not leak.
		return model.NotFound("患者", patientID)
	}
	return nil
}

// scoped loads a row for a reader outside a transaction and applies scope.
func scoped[T any, PT interface {
	*T
	model.Entity
}](ctx context.Context, db *DB, id int64) (PT, error) {
	e, err := getRow[T, PT](ctx, db.q(ctx), id)
	if err != nil {
		return nil, err
	}
	a := model.ActorFrom(ctx)
	if err := checkScope(a, e); err != nil {
		return nil, err
	}
	if p, ok := any(e).(*model.Patient); ok {
		if err := patientInScope(ctx, db, a, p.ID); err != nil {
			return nil, err
		}
	}
	return e, nil
}
