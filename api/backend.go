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
	CheckImageTarget(ctx context.Context, sessionID int64, phase string) error
	Accounts
	Registry
	Interfaces

	ApplicationDetail(ctx context.Context, id int64) (*model.ApplicationDetail, error)
	Slots(ctx context.Context, deptID, projectID int64, day string) ([]*model.Slot, error)
	Queue(ctx context.Context, deptID int64, day string) ([]model.QueueEntry, error)
	PatientArchive(ctx context.Context, patientID int64) (*model.PatientArchive, error)
	FindPatients(ctx context.Context, field, value string) ([]*model.Patient, error)
	FollowupsInScope(ctx context.Context, due string) ([]*model.Followup, error)
	PatientHome(ctx context.Context) (*model.PatientHome, error)
	PatientTickets(ctx context.Context) ([]model.PatientTicket, error)
	QueueBoard(ctx context.Context, deptID int64) (*model.QueueBoard, error)
	NoticeDeliveries(ctx context.Context, id int64) ([]model.NoticeDelivery, error)
	RetryNotice(ctx context.Context, id int64) (*model.Notification, error)
	Workstation(ctx context.Context) (*model.Workstation, error)
	SaveConsentTemplate(ctx context.Context, r model.NewConsentTemplate) (*model.ConsentTemplate, error)
	ConsentTemplates(ctx context.Context, projectID int64) ([]*model.ConsentTemplate, error)
	ConsentText(ctx context.Context, consentID int64) (*model.SignedConsentText, error)
	ConsentProjects(ctx context.Context) ([]model.ProjectConsentText, error)
	SearchPatients(ctx context.Context, deptID int64, query string) ([]model.DeskPatient, error)
	PatientIdentities(ctx context.Context, ids []int64) (map[int64]model.PatientIdentity, error)
	CreateDisplay(ctx context.Context, deptID int64, label string) (*model.Display, string, error)
	Displays(ctx context.Context, deptID int64) ([]model.Display, error)
	RevokeDisplay(ctx context.Context, id int64) error
	DisplayBoard(ctx context.Context, token string) (*model.QueueBoard, error)
	DeskDay(ctx context.Context, deptID int64, day string) (*model.DeskDay, error)
	RescheduleAppointment(ctx context.Context, id, slotID int64) (*model.Appointment, error)
	NoticePrefs(ctx context.Context) ([]model.NoticePref, error)
	SetNoticePref(ctx context.Context, level string, optedOut bool) ([]model.NoticePref, error)
	IdempotentResult(ctx context.Context, principal, key string) (*model.IdempotentResult, error)
	RecordIdempotentResponse(ctx context.Context, principal, key string, status int, body []byte) error
}

// Accounts is account administration and the audit log, with 三权分立 kept
// by the store: each call refuses an actor whose role may not make it.
type Accounts interface {
	ChangePassword(ctx context.Context, current, next string) error
	Users(ctx context.Context) ([]*model.User, error)
	CreateUser(ctx context.Context, u *model.User, password string) error
	BindStaff(ctx context.Context, userID, staffID int64) (*model.User, error)
	SetRole(ctx context.Context, userID int64, role string, deptID *int64) (*model.User, error)
	Unlock(ctx context.Context, userID int64) (*model.User, error)
	ResetPassword(ctx context.Context, userID int64, password string) (*model.User, error)
	AuditLog(ctx context.Context, q model.AuditQuery) ([]model.AuditLine, error)
}

// Registry is the document registry's read side (store/documents.go).
type Registry interface {
	Documents(ctx context.Context, q model.DocumentQuery) ([]*model.Document, error)
	Document(ctx context.Context, id int64) (*model.Document, []byte, error)
	DocumentSignature(ctx context.Context, id int64) (sig, publicKey []byte, err error)
	CheckDocument(ctx context.Context, id int64) (*model.DocumentCheck, error)
	DocumentFailures(ctx context.Context, limit int) ([]model.DocumentFailure, error)
}

// Interfaces is the HL7 traffic the integration engineer's page shows.
type Interfaces interface {
	FeedMessages(ctx context.Context, q model.FeedQuery) ([]*model.FeedMessage, error)
	ReplayFeedMessage(ctx context.Context, id int64) (*model.FeedMessage, error)
	HL7DeadLetters(ctx context.Context, limit int) ([]model.HL7DeadLetter, error)
}
