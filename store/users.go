package store

import (
	"context"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/zhiliao/zhiliao/model"
)

// CreateUser adds a login account with a bcrypt-hashed password.
// Department-bound roles must name their department.
func (db *DB) CreateUser(ctx context.Context, u *model.User, password string) error {
	if !model.ValidIdentifier(u.Username) {
		return model.Invalid("username", "用户名只能包含字母、数字和 . _ - (invalid username)")
	}
	if !model.ValidRole(u.Role) {
		return model.Invalid("role", "未知角色 %q (unknown role)", u.Role)
	}
	if (u.Role == model.RoleDeptManager || u.Role == model.RoleClinician) && u.DeptID == nil {
		return model.Invalid("dept_id", "科室主任和临床人员必须绑定科室 (department required)")
	}
	if len(password) < 8 || len(password) > 72 {
		return model.Invalid("password", "密码长度须为 8–72 个字符")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		err := tx.queryRow(`INSERT INTO user_account (institution_id, username, display_name, password_hash, role, dept_id, staff_id, patient_id, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, u.InstitutionID, u.Username, u.DisplayName, string(hash), u.Role,
			u.DeptID, u.StaffID, u.PatientID, formatTime(tx.now)).Scan(&u.ID)
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return model.Conflict("user.duplicate", "用户名 %s 已存在", u.Username)
		}
		return mapConstraint("user", err)
	})
}

// Institutions lists the hospitals of the core.
func (db *DB) Institutions(ctx context.Context) ([]*model.Institution, error) {
	return listRows[model.Institution](ctx, db.q(ctx), "1 = 1 ORDER BY id")
}

// Departments lists an institution's departments.
func (db *DB) Departments(ctx context.Context, institutionID int64) ([]*model.Department, error) {
	return listRows[model.Department](ctx, db.q(ctx), "institution_id = ? ORDER BY id", institutionID)
}
