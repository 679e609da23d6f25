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
	StaffID       int64
	Role          string
	DeptID        int64 // 0: not bound to a department
	InstitutionID int64
}

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
