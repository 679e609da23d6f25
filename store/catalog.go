package store

import (
	"context"
	"strconv"
	"strings"

	"github.com/zhiliao/zhiliao/model"
)

var _ model.CatalogService = (*DB)(nil)

func checkCodeName(code, name string) error {
	if !model.ValidIdentifier(code) {
		return model.Invalid("code", "编码格式无效 (invalid code %q)", code)
	}
	if strings.TrimSpace(name) == "" || len(name) > 200 {
		return model.Invalid("name", "名称不能为空且不超过 200 字节")
	}
	return nil
}

// CreateInstitution registers a hospital.
func (db *DB) CreateInstitution(ctx context.Context, v *model.Institution) error {
	if err := checkCodeName(v.Code, v.Name); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error { return tx.insert(v) })
}

// CreateDepartment registers a department.
func (db *DB) CreateDepartment(ctx context.Context, v *model.Department) error {
	if err := checkCodeName(v.Code, v.Name); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error { return tx.insert(v) })
}

// CreateStaff registers a clinician of a department.
func (db *DB) CreateStaff(ctx context.Context, v *model.Staff) error {
	if err := checkCodeName(v.Code, v.Name); err != nil {
		return err
	}
	switch v.Role {
	case model.StaffDoctor, model.StaffTherapist, model.StaffNurse:
	default:
		return model.Invalid("role", "岗位必须是 doctor/therapist/nurse")
	}
	return db.write(ctx, func(tx *Tx) error {
		if err := sameInstitution[model.Department](tx, v.DeptID, v.InstitutionID, "dept_id"); err != nil {
			return err
		}
		return tx.insert(v)
	})
}

// CreateRoom registers a treatment room.
func (db *DB) CreateRoom(ctx context.Context, v *model.Room) error {
	if err := checkCodeName(v.Code, v.Name); err != nil {
		return err
	}
	if v.Beds < 1 {
		return model.Invalid("beds", "床位数至少为 1")
	}
	return db.write(ctx, func(tx *Tx) error {
		if err := sameInstitution[model.Department](tx, v.DeptID, v.InstitutionID, "dept_id"); err != nil {
			return err
		}
		return tx.insert(v)
	})
}

// ParseFollowupDays parses a project's follow-up plan ("1,7,30").
func ParseFollowupDays(s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int64
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || n < 0 || n > 365 {
			return nil, model.Invalid("followup_days", "随访计划格式应为以逗号分隔的天数，如 1,7,30")
		}
		out = append(out, n)
	}
	return out, nil
}

// CreateProject adds a project to the catalogue.
func (db *DB) CreateProject(ctx context.Context, v *model.Project) error {
	if err := checkCodeName(v.Code, v.Name); err != nil {
		return err
	}
	switch {
	case v.UnitPriceFen < 0:
		return model.Invalid("unit_price_fen", "单价不能为负 (negative amount)")
	case v.Minutes <= 0 || v.Minutes > 600:
		return model.Invalid("minutes", "时长必须在 1–600 分钟之间")
	case v.CourseSessions <= 0 || v.CourseSessions > 100:
		return model.Invalid("course_sessions", "疗程次数必须在 1–100 之间")
	case v.NoShowGraceMinutes < 0 || v.NoShowGraceMinutes > 24*60:
		return model.Invalid("no_show_grace_minutes", "爽约判定宽限必须在 0–1440 分钟之间")
	case v.SelfCancelCutoffMinutes < 0 || v.SelfCancelCutoffMinutes > 7*24*60:
		return model.Invalid("self_cancel_cutoff_minutes", "患者自助取消截止时间必须在 0–10080 分钟之间")
	}
	if v.NoShowGraceMinutes == 0 {
		v.NoShowGraceMinutes = model.DefaultNoShowGraceMinutes
	}
	if v.SelfCancelCutoffMinutes == 0 {
		v.SelfCancelCutoffMinutes = model.DefaultSelfCancelCutoffMinutes
	}
	if _, err := ParseFollowupDays(v.FollowupDays); err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		if err := sameInstitution[model.Department](tx, v.DeptID, v.InstitutionID, "dept_id"); err != nil {
			return err
		}
		return tx.insert(v)
	})
}

// CreatePatient registers a patient.
func (db *DB) CreatePatient(ctx context.Context, v *model.Patient) error {
	if err := checkCodeName(v.MRN, v.Name); err != nil {
		return err
	}
	switch v.Gender {
	case "M", "F", "U":
	default:
		return model.Invalid("gender", "性别必须是 M/F/U")
	}
	if v.BirthDate != "" {
		if _, err := model.ParseDay("birth_date", v.BirthDate); err != nil {
			return err
		}
	}
	return db.write(ctx, func(tx *Tx) error { return tx.insert(v) })
}

// ProjectByCode finds a project of an institution.
func (db *DB) ProjectByCode(ctx context.Context, institutionID int64, code string) (*model.Project, error) {
	return findRow[model.Project](ctx, db.q(ctx), "institution_id = ? AND code = ?", institutionID, code)
}

// PatientByMRN finds a patient of an institution.
func (db *DB) PatientByMRN(ctx context.Context, institutionID int64, mrn string) (*model.Patient, error) {
	return findRow[model.Patient](ctx, db.q(ctx), "institution_id = ? AND mrn = ?", institutionID, mrn)
}

// sameInstitution loads row id of T and refuses it when it belongs to another
// institution: ids never cross hospitals.
func sameInstitution[T any, PT interface {
	*T
	model.Entity
}](tx *Tx, id, institutionID int64, field string) error {
	e, err := get[T, PT](tx, id)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return model.Invalid(field, "%s %d 不存在 (unknown id)", field, id)
	} else if err != nil {
		return err
	}
	if model.GetMeta(e).InstitutionID != institutionID {
		return model.Invalid(field, "%s %d 属于其他医疗机构 (belongs to another institution)", field, id)
	}
	return nil
}

// SetProjectScope puts a project in or out of each rating's scope (the
// quality office's call: which treatments the EMR rating and the
// smart-service rating count). The change reaches the warehouse through the
// outbox like any other, and the marts at their next full rebuild.
func (db *DB) SetProjectScope(ctx context.Context, projectID int64, emr, smart bool) (*model.Project, error) {
	var p *model.Project
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if p, err = findRow[model.Project](tx.ctx, tx, "id = ?", projectID); err != nil {
			return err
		}
		p.EMRScope, p.SmartScope = emr, smart
		return tx.update(p)
	})
	return p, err
}
