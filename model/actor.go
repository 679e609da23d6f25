package model

import (
	"context"
	"time"
)

// Login roles (DESIGN.md §7).
const (
	RoleAdmin         = "admin"          // 系统管理员: accounts and the catalogue, never clinical data
	RoleSecurityAdmin = "security_admin" // 安全管理员: roles, locks, password resets
	RoleAuditAdmin    = "audit_admin"    // 安全审计员: reads the audit log, nothing else
	RoleDeptManager   = "dept_manager"
	RoleQualityOffice = "quality_office"
	RoleEvaluator     = "evaluator"
	// RoleRegionOffice (区域卫生管理) reads the figures of every institution
	// in a regional warehouse (DESIGN.md §8), patients de-identified, and
	// changes nothing.
	RoleRegionOffice = "region_office"
	RoleClinician    = "clinician"
	RoleFrontDesk    = "front_desk"
	RoleHIS          = "his"
	RolePatient      = "patient"
	RoleSystem       = "system" // the generator, schedulers and command-line tools
)

// Actor is who performs a change; it is recorded in the status history.
type Actor struct {
	UserID        int64
	Username      string
	StaffID       int64
	PatientID     int64 // for RolePatient: the only patient whose rows it may see
	Role          string
	DeptID        int64 // 0: not bound to a department
	InstitutionID int64 // 0 only for the system actor
	// MustChangePassword: after an administrator's reset the account may do
	// nothing but change its password.
	MustChangePassword bool
}

// What an actor may see and change (department-bound, read-only,
// administrator, regional) is policy's role table (package policy).

type actorKey struct{}

// WithActor returns a context carrying the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor of the context, or the system actor.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Role: RoleSystem}
}

// User is a login account.
type User struct {
	ID            int64  `json:"id"`
	InstitutionID int64  `json:"institution_id"`
	Username      string `json:"username"`
	DisplayName   string `json:"display_name"`
	Role          string `json:"role"`
	DeptID        *int64 `json:"dept_id"`
	StaffID       *int64 `json:"staff_id"`
	PatientID     *int64 `json:"patient_id"`
	Disabled      bool   `json:"disabled"`
	// MustChangePassword: set by an administrator's reset, cleared by the
	// user's own change.
	MustChangePassword bool       `json:"must_change_password"`
	LockedUntil        *time.Time `json:"locked_until,omitempty"`
}

// ValidRole reports whether r is a login role.
func ValidRole(r string) bool {
	switch r {
	case RoleAdmin, RoleSecurityAdmin, RoleAuditAdmin, RoleDeptManager, RoleQualityOffice, RoleEvaluator, RoleRegionOffice,
		RoleClinician, RoleFrontDesk, RoleHIS, RolePatient:
		return true
	}
	return false
}

// ActorOf is the actor a user acts as.
func ActorOf(u *User) Actor {
	a := Actor{UserID: u.ID, Username: u.Username, Role: u.Role, InstitutionID: u.InstitutionID, MustChangePassword: u.MustChangePassword}
	if u.DeptID != nil {
		a.DeptID = *u.DeptID
	}
	if u.StaffID != nil {
		a.StaffID = *u.StaffID
	}
	if u.PatientID != nil {
		a.PatientID = *u.PatientID
	}
	return a
}

// AuditEntry is one line of the audit log: who (from the context's actor),
// what, when, with which request id.
type AuditEntry struct {
	Action    string // "write" or "read_pii"
	Route     string // METHOD /pattern
	Entity    string
	EntityID  string
	Status    int
	RequestID string
	Remote    string
	Detail    string // filters or a summary, JSON
}

// PendingAudit is the audit line of a write request, carried in its context
// so that the store commits it in the same transaction as the write itself
// (a crash can then never keep the write and lose its line). The store sets
// Committed once the transaction holding the line has committed; the API
// writes a line of its own only for a request whose write never committed
// (refused, failed), before the response's first byte.
type PendingAudit struct {
	Entry     AuditEntry
	Committed bool
	// Claim, when set, is the request's idempotency key: the store records
	// it in the same transaction as the write, so a resubmission after a
	// lost response finds it and never writes twice.
	Claim *IdempotencyClaim
}

// IdempotencyClaim is one request's Idempotency-Key, scoped to the principal
// that sent it (an account, or a patient's link session).
type IdempotencyClaim struct {
	Principal   string
	Key         string
	RequestHash string // SHA-256 of method, path and body: the same key with another request is refused
	Route       string
}

// IdempotentResult is what the core remembers of a request with a key. A
// claim committed with its write but not yet given its response (the
// process stopped in between) has Status 0.
type IdempotentResult struct {
	RequestHash string
	Status      int
	Body        []byte
}

type auditKey struct{}

// WithPendingAudit returns a context whose first committed write carries p's line.
func WithPendingAudit(ctx context.Context, p *PendingAudit) context.Context {
	return context.WithValue(ctx, auditKey{}, p)
}

// PendingAuditFrom returns the pending audit line of ctx, or nil.
func PendingAuditFrom(ctx context.Context) *PendingAudit {
	p, _ := ctx.Value(auditKey{}).(*PendingAudit)
	return p
}

// RequestInfo is where a request came from, for the audit lines the store
// writes on its own (login attempts).
type RequestInfo struct {
	Route  string // METHOD /pattern
	ID     string // request id
	Remote string // client address, proxies resolved
}

type requestKey struct{}

// WithRequest returns a context carrying the request's origin.
func WithRequest(ctx context.Context, r RequestInfo) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request origin of ctx, or a zero one.
func RequestFrom(ctx context.Context) RequestInfo {
	r, _ := ctx.Value(requestKey{}).(RequestInfo)
	return r
}

// AuditQuery filters the audit log.
type AuditQuery struct {
	From, To string // days, inclusive
	Username string
	Action   string
	Limit    int
	Offset   int
}

// AuditLine is one row of the audit log as the audit administrator reads it.
type AuditLine struct {
	ID        int64  `json:"id"`
	At        string `json:"at"`
	UserID    int64  `json:"user_id"`
	Username  string `json:"username"`
	Role      string `json:"role"`
	Action    string `json:"action"`
	Route     string `json:"route"`
	Entity    string `json:"entity"`
	EntityID  string `json:"entity_id"`
	Status    int    `json:"status"`
	RequestID string `json:"request_id"`
	Remote    string `json:"remote"`
	Detail    string `json:"detail"`
}
