package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// Account routes: a user's own password, account administration by the
// system and security administrators, and the audit log for the audit
// administrator. Which administrator may do what is enforced again in the
// store (三权分立); the route roles only keep others from reaching it.

type (
	passwordBody struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	newUserBody struct {
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Password    string `json:"password"`
		Role        string `json:"role"`
		StaffID     *int64 `json:"staff_id"`
		DeptID      *int64 `json:"dept_id"`
	}
	staffBody struct {
		StaffID int64 `json:"staff_id"`
	}
	roleBody struct {
		Role   string `json:"role"`
		DeptID *int64 `json:"dept_id"`
	}
	resetBody struct {
		Password string `json:"password"`
	}
)

func (s *Server) accountRoutes() []route {
	b := s.Backend
	return []route{
		{Method: "POST", Pattern: "/api/v1/auth/password", Summary: "修改本人密码 change my password", Tag: "auth", Action: policy.StaffAccount, Audit: policy.AuditWrite, Entity: "user",
			Body: passwordBody{}, handler: call(http.StatusNoContent, func(ctx context.Context, r *http.Request, req passwordBody) (any, error) {
				return nil, b.ChangePassword(ctx, req.CurrentPassword, req.NewPassword)
			})},
		{Method: "GET", Pattern: "/api/v1/admin/users", Summary: "账号列表 accounts (系统管理员、安全管理员)", Tag: "admin", Action: policy.ListAccounts,
			Response: listResponse[*model.User]{}, handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				u, err := b.Users(ctx)
				return list(u), err
			})},
		{Method: "POST", Pattern: "/api/v1/admin/users", Summary: "创建账号（临床账号须绑定医护人员）create an account (系统管理员)", Tag: "admin", Action: policy.SystemAdmin, Audit: policy.AuditWrite, Entity: "user",
			Body: newUserBody{}, Response: model.User{}, handler: call(http.StatusCreated, func(ctx context.Context, r *http.Request, req newUserBody) (any, error) {
				u := &model.User{Username: req.Username, DisplayName: req.DisplayName, Role: req.Role, StaffID: req.StaffID, DeptID: req.DeptID}
				if err := b.CreateUser(ctx, u, req.Password); err != nil {
					return nil, err
				}
				setAuditID(ctx, u.ID)
				return u, nil
			})},
		{Method: "POST", Pattern: "/api/v1/admin/users/{id}/staff", Summary: "绑定医护人员 bind an account to a staff record (系统管理员)", Tag: "admin", Action: policy.SystemAdmin, Audit: policy.AuditWrite, Entity: "user",
			Body: staffBody{}, Response: model.User{}, handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req staffBody) (any, error) {
				return b.BindStaff(ctx, id, req.StaffID)
			}))},
		{Method: "POST", Pattern: "/api/v1/admin/users/{id}/role", Summary: "变更角色与科室 change role (安全管理员)", Tag: "admin", Action: policy.SecurityAdmin, Audit: policy.AuditWrite, Entity: "user",
			Body: roleBody{}, Response: model.User{}, handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req roleBody) (any, error) {
				return b.SetRole(ctx, id, req.Role, req.DeptID)
			}))},
		{Method: "POST", Pattern: "/api/v1/admin/users/{id}/unlock", Summary: "解除锁定 unlock (安全管理员)", Tag: "admin", Action: policy.SecurityAdmin, Audit: policy.AuditWrite, Entity: "user",
			Response: model.User{}, handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) { return b.Unlock(ctx, id) }))},
		{Method: "POST", Pattern: "/api/v1/admin/users/{id}/reset-password", Summary: "重置密码（下次登录须修改）reset a password (安全管理员)", Tag: "admin", Action: policy.SecurityAdmin, Audit: policy.AuditWrite, Entity: "user",
			Body: resetBody{}, Response: model.User{}, handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req resetBody) (any, error) {
				return b.ResetPassword(ctx, id, req.Password)
			}))},
		{Method: "GET", Pattern: "/api/v1/audit", Summary: "审计日志 the audit log (安全审计员)", Tag: "admin", Action: policy.ReadAudit, Audit: policy.AuditReadLog, Entity: "audit_log",
			Params: []string{"from", "to", "username", "action", "limit", "offset"}, Response: listResponse[model.AuditLine]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "from", "to", "username", "action", "limit", "offset"); err != nil {
					return nil, err
				}
				q := r.URL.Query()
				aq := model.AuditQuery{From: q.Get("from"), To: q.Get("to"), Username: q.Get("username"), Action: q.Get("action")}
				for name, dst := range map[string]*int{"limit": &aq.Limit, "offset": &aq.Offset} {
					if v := q.Get(name); v != "" {
						n, err := strconv.Atoi(v)
						if err != nil || n < 0 {
							return nil, model.Invalid(name, "%s 必须是非负整数", name)
						}
						*dst = n
					}
				}
				l, err := b.AuditLog(ctx, aq)
				return list(l), err
			})},
	}
}

// setAuditID names the entity a handler touched on its audit line.
func setAuditID(ctx context.Context, id int64) {
	if n, ok := ctx.Value(auditKey{}).(*auditNote); ok {
		n.entityID = strconv.FormatInt(id, 10)
	}
}
