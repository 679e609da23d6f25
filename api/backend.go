package api

import (
	"context"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// Backend is everything the API needs from the core: the lifecycle services,
// authentication, the audit log and the read views. The store implements it;
// the API never sees a concrete type.
type Backend interface {
	model.OrderService
	model.ApplicationService
	model.ScheduleService
	model.ExecutionService
	model.FollowupService
	Pinger

	Login(ctx context.Context, username, password string) (string, *model.User, time.Time, error)
	Authenticate(ctx context.Context, token string) (model.Actor, error)
	Logout(ctx context.Context, token string) error
	CreatePatientLink(ctx context.Context, patientID int64) (string, time.Time, error)
	User(ctx context.Context, id int64) (*model.User, error)
	Audit(ctx context.Context, e model.AuditEntry) error

	ApplicationDetail(ctx context.Context, id int64) (*model.ApplicationDetail, error)
	Slots(ctx context.Context, deptID, projectID int64, day string) ([]*model.Slot, error)
	Queue(ctx context.Context, deptID int64, day string) ([]model.QueueEntry, error)
	PatientArchive(ctx context.Context, patientID int64) (*model.PatientArchive, error)
	FollowupsInScope(ctx context.Context, due string) ([]*model.Followup, error)
	PatientHome(ctx context.Context) (*model.PatientHome, error)
}
