package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// Account administration, with the separation of the three administrators
// (三权分立) enforced here rather than in the handlers:
//   - the system administrator (admin) creates accounts and binds them to
//     staff records, but cannot grant an administrator role;
//   - the security administrator (security_admin) changes roles, unlocks
//     accounts and resets passwords;
//   - the audit administrator (audit_admin) reads the audit log (AuditLog);
//   - the three administrator accounts themselves are made only on the
//     command line (the system actor), at installation.
// None of them may write clinical data (checkScope refuses it).

func mayAdminister(ctx context.Context, roles ...string) (model.Actor, error) {
	a := model.ActorFrom(ctx)
	if a.Role == model.RoleSystem {
		return a, nil
	}
	for _, r := range roles {
		if a.Role == r {
			return a, nil
		}
	}
	return a, model.Errorf(model.EFORBIDDEN, "角色 %s 无权管理账号 (role may not administer accounts)", a.Role)
}

// clinicalRoles are the roles whose every act names a person: their
// accounts must be bound to a staff record.
func clinicalRole(role string) bool {
	return role == model.RoleClinician || role == model.RoleDeptManager
}

// CreateUser adds a login account with a bcrypt-hashed password. A
// clinician's or department manager's account is bound to a staff record
// of its institution and takes the staff's department.
func (db *DB) CreateUser(ctx context.Context, u *model.User, password string) error {
	a, err := mayAdminister(ctx, model.RoleAdmin)
	if err != nil {
		return err
	}
	if !model.ValidIdentifier(u.Username) || len(u.Username) > 64 {
		return model.Invalid("username", "用户名只能包含字母、数字和 . _ - ，至多 64 个字符 (invalid username)")
	}
	if !model.ValidRole(u.Role) {
		return model.Invalid("role", "未知角色 %q (unknown role)", u.Role)
	}
	if a.Role != model.RoleSystem {
		if policy.Administrator(model.ActorOf(u)) {
			return model.Invalid("role", "管理员账号只能在安装时由命令行创建 (administrator accounts are made on the command line)")
		}
		u.InstitutionID = a.InstitutionID
	}
	if err := db.Policy.Password.Check(u.Username, password); err != nil {
		return err
	}
	hash, err := db.Policy.hashPassword(password)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		if err := bindStaff(tx, u); err != nil {
			return err
		}
		err := tx.queryRow(`INSERT INTO user_account (institution_id, username, display_name, password_hash, role, dept_id, staff_id, patient_id, created_at, password_changed_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, u.InstitutionID, u.Username, u.DisplayName, string(hash), u.Role,
			u.DeptID, u.StaffID, u.PatientID, formatTime(tx.now), formatTime(tx.now)).Scan(&u.ID)
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return model.Conflict("user.duplicate", "用户名 %s 已存在", u.Username)
		}
		return mapConstraint("user", err)
	})
}

// bindStaff checks u's staff record (same institution, active) and takes its
// department; a clinical role without one is refused.
func bindStaff(tx *Tx, u *model.User) error {
	if u.StaffID == nil {
		if clinicalRole(u.Role) {
			return model.Invalid("staff_id", "临床人员和科室主任账号必须绑定医护人员（--staff 工号）(clinical accounts need a staff record)")
		}
		if (u.Role == model.RoleFrontDesk) && u.DeptID != nil {
			if _, err := findRow[model.Department](tx.ctx, tx, "id = ? AND institution_id = ?", *u.DeptID, u.InstitutionID); err != nil {
				return model.Invalid("dept_id", "科室不存在 (no such department)")
			}
		}
		return nil
	}
	st, err := findRow[model.Staff](tx.ctx, tx, "id = ? AND institution_id = ?", *u.StaffID, u.InstitutionID)
	if err != nil {
		return model.Invalid("staff_id", "医护人员 %d 不存在于本院 (no such staff record)", *u.StaffID)
	}
	if !st.Active {
		return model.Invalid("staff_id", "医护人员 %s 已停用 (staff record inactive)", st.Code)
	}
	if u.DeptID != nil && *u.DeptID != st.DeptID {
		return model.Invalid("dept_id", "账号科室与医护人员 %s 的科室不一致 (department differs from the staff record's)", st.Code)
	}
	var other sql.NullInt64
	if err := tx.queryRow("SELECT id FROM user_account WHERE staff_id = ? AND id != ?", st.ID, u.ID).Scan(&other); err == nil {
		return model.Conflict("user.staff_bound", "医护人员 %s 已绑定其他账号 (staff record bound to another account)", st.Code)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	d := st.DeptID
	u.DeptID = &d
	return nil
}

// Users lists the accounts of the administrator's institution.
func (db *DB) Users(ctx context.Context) ([]*model.User, error) {
	a, err := mayAdminister(ctx, model.RoleAdmin, model.RoleSecurityAdmin)
	if err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, db.sqlText("SELECT "+userColumns+" FROM user_account WHERE institution_id = ? OR ? = 0 ORDER BY id"), a.InstitutionID, a.InstitutionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*model.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// account loads an account the actor may administer: of its institution,
// and not an administrator's unless the actor is the command line.
func account(tx *Tx, id int64) (*model.User, error) {
	u, err := scanUser(tx.queryRow("SELECT "+userColumns+" FROM user_account WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && tx.actor.Role != model.RoleSystem && u.InstitutionID != tx.actor.InstitutionID) {
		return nil, model.NotFound("用户", id)
	} else if err != nil {
		return nil, err
	}
	if tx.actor.Role != model.RoleSystem && policy.Administrator(model.ActorOf(u)) {
		return nil, model.Errorf(model.EFORBIDDEN, "管理员账号只能由命令行维护 (administrator accounts are kept on the command line)")
	}
	return u, nil
}

// administer runs fn on an account the actor may administer, as role,
// in one write transaction, and returns the account as fn left it.
func (db *DB) administer(ctx context.Context, role string, userID int64, fn func(tx *Tx, u *model.User) error) (*model.User, error) {
	if _, err := mayAdminister(ctx, role); err != nil {
		return nil, err
	}
	var u *model.User
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if u, err = account(tx, userID); err != nil {
			return err
		}
		return fn(tx, u)
	})
	return u, err
}

// BindStaff binds an account to a staff record (system administrator).
func (db *DB) BindStaff(ctx context.Context, userID, staffID int64) (*model.User, error) {
	return db.administer(ctx, model.RoleAdmin, userID, func(tx *Tx, u *model.User) error {
		u.StaffID, u.DeptID = &staffID, nil
		if err := bindStaff(tx, u); err != nil {
			return err
		}
		_, err := tx.exec("UPDATE user_account SET staff_id = ?, dept_id = ? WHERE id = ?", staffID, u.DeptID, u.ID)
		return err
	})
}

// SetRole changes an account's role and department (security administrator).
// Its sessions end, so the new role applies from the next login.
func (db *DB) SetRole(ctx context.Context, userID int64, role string, deptID *int64) (*model.User, error) {
	if _, err := mayAdminister(ctx, model.RoleSecurityAdmin); err != nil {
		return nil, err // refused before the request is judged
	}
	if !model.ValidRole(role) {
		return nil, model.Invalid("role", "未知角色 %q (unknown role)", role)
	}
	if model.ActorFrom(ctx).Role != model.RoleSystem && policy.Administrator((model.Actor{Role: role})) {
		return nil, model.Invalid("role", "管理员角色只能由命令行授予 (administrator roles are granted on the command line)")
	}
	return db.administer(ctx, model.RoleSecurityAdmin, userID, func(tx *Tx, u *model.User) error {
		u.Role, u.DeptID = role, deptID
		if err := bindStaff(tx, u); err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE user_account SET role = ?, dept_id = ? WHERE id = ?", role, u.DeptID, u.ID); err != nil {
			return err
		}
		return revokeSessions(tx, u.ID)
	})
}

func revokeSessions(tx *Tx, userID int64) error {
	_, err := tx.exec("UPDATE auth_token SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", formatTime(tx.now), userID)
	return err
}

// Unlock lifts a lockout (security administrator).
func (db *DB) Unlock(ctx context.Context, userID int64) (*model.User, error) {
	return db.administer(ctx, model.RoleSecurityAdmin, userID, func(tx *Tx, u *model.User) error {
		u.LockedUntil = nil
		_, err := tx.exec("UPDATE user_account SET locked_until = NULL, failed_logins = 0 WHERE id = ?", u.ID)
		return err
	})
}

// ResetPassword sets a temporary password (security administrator): the
// account's sessions end and, at its next login, it can do nothing but
// change the password.
func (db *DB) ResetPassword(ctx context.Context, userID int64, password string) (*model.User, error) {
	return db.administer(ctx, model.RoleSecurityAdmin, userID, func(tx *Tx, u *model.User) error {
		if err := db.Policy.Password.Check(u.Username, password); err != nil {
			return err
		}
		hash, err := db.Policy.hashPassword(password)
		if err != nil {
			return err
		}
		if _, err := tx.exec("UPDATE user_account SET password_hash = ?, must_change_password = 1, failed_logins = 0, locked_until = NULL WHERE id = ?",
			string(hash), u.ID); err != nil {
			return err
		}
		u.MustChangePassword = true
		return revokeSessions(tx, u.ID)
	})
}

// ChangePassword changes the signed-in account's own password, given the
// current one; it clears a reset's must-change flag.
func (db *DB) ChangePassword(ctx context.Context, current, next string) error {
	a := model.ActorFrom(ctx)
	if a.UserID == 0 {
		return model.Errorf(model.EFORBIDDEN, "只有登录账号可以修改密码 (no account)")
	}
	var hash string
	if err := db.r.QueryRowContext(ctx, db.sqlText("SELECT password_hash FROM user_account WHERE id = ?"), a.UserID).Scan(&hash); err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(current)) != nil {
		return model.Invalid("current_password", "原密码不正确 (current password is wrong)")
	}
	if current == next {
		return model.Invalid("password", "新密码不能与原密码相同 (the new password must differ)")
	}
	if err := db.Policy.Password.Check(a.Username, next); err != nil {
		return err
	}
	h, err := db.Policy.hashPassword(next)
	if err != nil {
		return err
	}
	return db.writeAudited(ctx, func(tx *Tx) error { // an evaluator changes its password too
		_, err := tx.exec("UPDATE user_account SET password_hash = ?, must_change_password = 0, password_changed_at = ? WHERE id = ?",
			string(h), formatTime(tx.now), a.UserID)
		return err
	})
}

// AuditLog reads the audit log of the actor's institution (audit
// administrator; the command line reads every institution's).
func (db *DB) AuditLog(ctx context.Context, q model.AuditQuery) ([]model.AuditLine, error) {
	a, err := mayAdminister(ctx, model.RoleAuditAdmin)
	if err != nil {
		return nil, err
	}
	from, err := model.ParseDay("from", q.From)
	if err != nil {
		return nil, err
	}
	to, err := model.ParseDay("to", q.To)
	if err != nil {
		return nil, err
	}
	// Days are the hospital's (China time); lines are stored in UTC.
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, model.Local)
	to = time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, model.Local)
	if q.Limit <= 0 || q.Limit > 5000 {
		q.Limit = 500
	}
	cond := "at >= ? AND at < ?"
	args := []any{formatTime(from), formatTime(to.AddDate(0, 0, 1))}
	if a.Role != model.RoleSystem {
		cond += " AND (institution_id = ? OR institution_id = 0)"
		args = append(args, a.InstitutionID)
	}
	if q.Username != "" {
		cond += " AND username = ?"
		args = append(args, q.Username)
	}
	if q.Action != "" {
		cond += " AND action = ?"
		args = append(args, q.Action)
	}
	rows, err := db.r.QueryContext(ctx, db.sqlText(`SELECT id, at, user_id, username, role, action, route, entity, entity_id, status, request_id, remote, detail
FROM audit_log WHERE `+cond+` ORDER BY id LIMIT ? OFFSET ?`), append(args, q.Limit, q.Offset)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []model.AuditLine{}
	for rows.Next() {
		var l model.AuditLine
		if err := rows.Scan(&l.ID, &l.At, &l.UserID, &l.Username, &l.Role, &l.Action, &l.Route, &l.Entity, &l.EntityID, &l.Status,
			&l.RequestID, &l.Remote, &l.Detail); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Institutions lists the hospitals of the core.
func (db *DB) Institutions(ctx context.Context) ([]*model.Institution, error) {
	return listRows[model.Institution](ctx, db.q(ctx), "1 = 1 ORDER BY id")
}

// Departments lists an institution's departments.
func (db *DB) Departments(ctx context.Context, institutionID int64) ([]*model.Department, error) {
	return listRows[model.Department](ctx, db.q(ctx), "institution_id = ? ORDER BY id", institutionID)
}

// StaffByCode finds a staff record of an institution by its work number.
func (db *DB) StaffByCode(ctx context.Context, institutionID int64, code string) (*model.Staff, error) {
	st, err := findRow[model.Staff](ctx, db.q(ctx), "institution_id = ? AND code = ?", institutionID, code)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, model.Invalid("staff", "找不到工号为 %q 的医护人员 (unknown staff code)", code)
	}
	return st, err
}

// UnboundStaff lists the active staff of a department not yet bound to an
// account, of the given staff role ("" for any), in id order.
func (db *DB) UnboundStaff(ctx context.Context, deptID int64, role string) ([]*model.Staff, error) {
	return listRows[model.Staff](ctx, db.q(ctx), `dept_id = ? AND active = 1 AND (? = '' OR role = ?)
 AND id NOT IN (SELECT staff_id FROM user_account WHERE staff_id IS NOT NULL) ORDER BY id`, deptID, role, role)
}
