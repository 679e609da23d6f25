package model

import "context"

// Login roles (DESIGN.md §7).
const (
	RoleAdmin         = "admin"
	RoleDeptManager   = "dept_manager"
	RoleQualityOffice = "quality_office"
	RoleEvaluator     = "evaluator"
	RoleClinician     = "clinician"
	RoleFrontDesk     = "front_desk"
	RoleHIS           = "his"
	RolePatient       = "patient"
	RoleSystem        = "system" // the generator, schedulers and command-line tools
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
}

// DeptBound reports whether the actor sees only its own department.
func (a Actor) DeptBound() bool {
	return a.DeptID != 0 && (a.Role == RoleDeptManager || a.Role == RoleClinician || a.Role == RoleFrontDesk)
}

// ReadOnly reports whether the actor may never change lifecycle data.
func (a Actor) ReadOnly() bool { return a.Role == RoleEvaluator || a.Role == RoleQualityOffice }

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
}

// ValidRole reports whether r is a login role.
func ValidRole(r string) bool {
	switch r {
	case RoleAdmin, RoleDeptManager, RoleQualityOffice, RoleEvaluator, RoleClinician, RoleFrontDesk, RoleHIS, RolePatient:
		return true
	}
	return false
}

// ActorOf is the actor a user acts as.
func ActorOf(u *User) Actor {
	a := Actor{UserID: u.ID, Username: u.Username, Role: u.Role, InstitutionID: u.InstitutionID}
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
