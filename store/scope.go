package store

import (
	"context"
	"reflect"

	"github.com/zhiliao/zhiliao/model"
)

// Scope is enforced here, in the store, on every row a service loads or
// creates, so that no handler can forget it: an actor sees only its own
// institution, a department-bound actor only its own department, and a
// patient only its own rows. Rows of another institution are reported as not
// found, so their existence does not leak.
func checkScope(a model.Actor, e model.Entity) error {
	if a.Role == model.RoleSystem {
		return nil
	}
	tb := tableOf(e)
	m := model.GetMeta(e)
	if m.InstitutionID != 0 && m.InstitutionID != a.InstitutionID {
		return model.NotFound(model.EntityLabel(e.EntityName()), m.ID)
	}
	v := reflect.ValueOf(e).Elem()
	if a.DeptBound() && tb.deptCol != nil {
		if d := v.FieldByIndex(tb.deptCol).Int(); d != 0 && d != a.DeptID {
			return model.Errorf(model.EFORBIDDEN, "无权访问其他科室的数据 (%s of another department)", e.EntityName())
		}
	}
	if a.Role == model.RolePatient {
		if tb.patCol != nil && v.FieldByIndex(tb.patCol).Int() != a.PatientID {
			return model.Errorf(model.EFORBIDDEN, "只能查看本人的信息 (another patient's data)")
		}
		if p, ok := e.(*model.Patient); ok && p.ID != a.PatientID {
			return model.Errorf(model.EFORBIDDEN, "只能查看本人的信息 (another patient's data)")
		}
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
	if err := checkScope(model.ActorFrom(ctx), e); err != nil {
		return nil, err
	}
	return e, nil
}
