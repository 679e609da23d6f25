package model

import (
	"fmt"
	"time"
)

// Entity is a row of the core that is written through the outbox. Each entity
// type names its table; the JSON of the struct is the full row after a change,
// which is what the CDC payload carries.
type Entity interface {
	EntityName() string
	meta() *Meta
}

// Stateful entities have a lifecycle status governed by Transitions.
type Stateful interface {
	Entity
	CurrentStatus() string
	SetStatus(string)
}

// Meta is embedded in every entity. Version increases by one on every change
// and is the CDC version; InstitutionID lets one regional warehouse hold many
// hospitals.
type Meta struct {
	ID            int64     `json:"id"`
	InstitutionID int64     `json:"institution_id"`
	Version       int64     `json:"version"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func (m *Meta) meta() *Meta { return m }

// GetMeta exposes the embedded Meta of any entity to adapters.
func GetMeta(e Entity) *Meta { return e.meta() }

// State is embedded in stateful entities.
type State struct {
	Status string `json:"status"`
}

func (s *State) CurrentStatus() string { return s.Status }
func (s *State) SetStatus(v string)    { s.Status = v }

// Institution is a hospital (医疗机构).
type Institution struct {
	Meta
	Code  string `json:"code"`
	Name  string `json:"name"`
	Level string `json:"level"` // 三级甲等 …
}

// Department is a clinical department (科室).
type Department struct {
	Meta
	Code string `json:"code"`
	Name string `json:"name"`
}

// Staff roles in the clinic (not login roles; those belong to users).
const (
	StaffDoctor    = "doctor"
	StaffTherapist = "therapist"
	StaffNurse     = "nurse"
)

// Staff is a clinician (医生/治疗师/护士) of one department.
type Staff struct {
	Meta
	DeptID int64  `json:"dept_id"`
	Code   string `json:"code"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Title  string `json:"title"`
	Active bool   `json:"active"`
}

// Room is a treatment room of one department.
type Room struct {
	Meta
	DeptID int64  `json:"dept_id"`
	Code   string `json:"code"`
	Name   string `json:"name"`
	Beds   int64  `json:"beds"`
}

// Project is a treatment project of the catalogue (治疗项目字典).
type Project struct {
	Meta
	DeptID             int64  `json:"dept_id"`
	Code               string `json:"code"`
	Name               string `json:"name"`
	Category           string `json:"category"` // rehab, physio, acupuncture, laser, dialysis, dressing, massage
	UnitPriceFen       int64  `json:"unit_price_fen"`
	Minutes            int64  `json:"minutes"`
	CourseSessions     int64  `json:"course_sessions"`
	NeedsConsent       bool   `json:"needs_consent"`
	NeedsImages        bool   `json:"needs_images"`
	EMRScope           bool   `json:"emr_scope"`           // in scope of EMR rating item 06.01
	SmartScope         bool   `json:"smart_scope"`         // in scope of the smart-service rating
	FollowupDays       string `json:"followup_days"`       // comma-separated day offsets after course end, e.g. "1,7,30"
	AssessmentTemplate string `json:"assessment_template"` // template code for structured assessments
	ConsentTemplate    string `json:"consent_template"`    // template code and version, e.g. "LASER-CONSENT@v3"
	Precautions        string `json:"precautions"`         // 注意事项 pushed with the appointment
	Active             bool   `json:"active"`
	// NoShowGraceMinutes: a booking not checked in this long after its
	// slot's end becomes a no-show at the day's close-out.
	NoShowGraceMinutes int64 `json:"no_show_grace_minutes"`
	// SelfCancelCutoffMinutes: a patient cannot cancel or move a booking
	// from the phone this close to its start (the desk still can until it starts).
	SelfCancelCutoffMinutes int64 `json:"self_cancel_cutoff_minutes"`
}

// The project rules' defaults, used where a project leaves them at zero.
const (
	DefaultNoShowGraceMinutes      = 30
	DefaultSelfCancelCutoffMinutes = 120
)

// NoShowGrace is how long after a slot's end a booking waits for the
// patient before the close-out calls it a no-show.
func (p *Project) NoShowGrace() time.Duration {
	return minutesOr(p.NoShowGraceMinutes, DefaultNoShowGraceMinutes)
}

// SelfCancelCutoff is how close to its start a patient may no longer cancel
// or move a booking on the phone.
func (p *Project) SelfCancelCutoff() time.Duration {
	return minutesOr(p.SelfCancelCutoffMinutes, DefaultSelfCancelCutoffMinutes)
}

func minutesOr(m, def int64) time.Duration {
	if m <= 0 {
		m = def
	}
	return time.Duration(m) * time.Minute
}

// Patient (患者).
type Patient struct {
	Meta
	MRN              string     `json:"mrn"` // 病案号 / patient id in the HIS
	Name             string     `json:"name"`
	Gender           string     `json:"gender"` // M, F, U
	BirthDate        string     `json:"birth_date"`
	Phone            string     `json:"phone"`
	IDNumber         string     `json:"id_number"`
	NoShowCount      int64      `json:"no_show_count"`
	BlacklistedUntil *time.Time `json:"blacklisted_until"`
}

// Visit types.
const (
	VisitOutpatient = "outpatient"
	VisitInpatient  = "inpatient"
)

// Order statuses (payment status of a HIS order, plus cancellation).
const (
	OrderUnpaid    = "unpaid"
	OrderPaid      = "paid"
	OrderRefunded  = "refunded"
	OrderCancelled = "cancelled"
)

// Order is a HIS treatment order (处方/医嘱) with its payment status.
type Order struct {
	Meta
	State
	OrderNo       string     `json:"order_no"` // HIS order number, unique per institution
	PatientID     int64      `json:"patient_id"`
	DeptID        int64      `json:"dept_id"`
	ProjectID     int64      `json:"project_id"`
	ProjectCode   string     `json:"project_code"`
	ProjectName   string     `json:"project_name"`
	Quantity      int64      `json:"quantity"`      // sessions ordered
	UsedQuantity  int64      `json:"used_quantity"` // sessions executed against it
	UnitPriceFen  int64      `json:"unit_price_fen"`
	AmountFen     int64      `json:"amount_fen"`
	RefundFen     int64      `json:"refund_fen"`
	VisitType     string     `json:"visit_type"`
	DiagnosisCode string     `json:"diagnosis_code"` // ICD-10
	DiagnosisName string     `json:"diagnosis_name"`
	OrderedBy     string     `json:"ordered_by"` // HIS doctor code
	OrderedAt     time.Time  `json:"ordered_at"`
	PaidAt        *time.Time `json:"paid_at"`
	RefundedAt    *time.Time `json:"refunded_at"`
	ApplicationID *int64     `json:"application_id"`
	HISMessageID  string     `json:"his_message_id"` // last HIS message applied, for idempotent intake
}

func (*Order) EntityName() string { return "order" }

// Application statuses.
const (
	AppSubmitted = "submitted"
	AppAssessed  = "assessed"
	AppPlanned   = "planned"
	AppCompleted = "completed"
	AppCancelled = "cancelled"
)

// Application is a treatment application (治疗申请) merging paid orders of one patient.
type Application struct {
	Meta
	State
	PatientID     int64      `json:"patient_id"`
	DeptID        int64      `json:"dept_id"`
	ProjectID     int64      `json:"project_id"`
	VisitType     string     `json:"visit_type"`
	DiagnosisCode string     `json:"diagnosis_code"`
	Sessions      int64      `json:"sessions"` // sum of the merged orders' quantities
	AppliedBy     int64      `json:"applied_by"`
	AppliedAt     time.Time  `json:"applied_at"`
	AssessedAt    *time.Time `json:"assessed_at"`
	PlannedAt     *time.Time `json:"planned_at"`
	Note          string     `json:"note"`
}

// Assessment statuses.
const (
	AssessmentDraft  = "draft"
	AssessmentSigned = "signed"
)

// Assessment is a structured assessment (治疗评估) filled from the project's template.
type Assessment struct {
	Meta
	State
	ApplicationID int64      `json:"application_id"`
	CourseID      *int64     `json:"course_id"`
	PatientID     int64      `json:"patient_id"`
	DeptID        int64      `json:"dept_id"`
	Kind          string     `json:"kind"` // initial, interim, final
	Template      string     `json:"template"`
	Answers       string     `json:"answers"` // JSON object, keys from the template
	Score         int64      `json:"score"`
	AssessorID    int64      `json:"assessor_id"`
	AssessedAt    time.Time  `json:"assessed_at"`
	SignedAt      *time.Time `json:"signed_at"`
}

// Course statuses.
const (
	CourseActive    = "active"
	CourseCompleted = "completed"
	CourseCancelled = "cancelled"
	CourseArchived  = "archived"
)

// Course is a course plan (疗程) of N sessions.
type Course struct {
	Meta
	State
	ApplicationID   int64      `json:"application_id"`
	PatientID       int64      `json:"patient_id"`
	DeptID          int64      `json:"dept_id"`
	ProjectID       int64      `json:"project_id"`
	PlannedSessions int64      `json:"planned_sessions"`
	DoneSessions    int64      `json:"done_sessions"`
	PlannedBy       int64      `json:"planned_by"`
	StartedAt       time.Time  `json:"started_at"`
	EndedAt         *time.Time `json:"ended_at"`
	ArchivedAt      *time.Time `json:"archived_at"`
}

// Roster statuses.
const (
	RosterOpen    = "open"
	RosterStopped = "stopped" // 停诊: bookings get a change notice
)

// Roster is one staff member in one room on one day and shift (排班).
type Roster struct {
	Meta
	State
	DeptID    int64  `json:"dept_id"`
	StaffID   int64  `json:"staff_id"`
	RoomID    int64  `json:"room_id"`
	ProjectID *int64 `json:"project_id"` // nil: any project of the department
	Day       string `json:"day"`        // YYYY-MM-DD
	Shift     string `json:"shift"`      // am, pm
}

// Slot statuses.
const (
	SlotOpen   = "open"
	SlotClosed = "closed"
)

// Slot is a bookable time slot of a roster with capacity.
type Slot struct {
	Meta
	State
	RosterID  int64     `json:"roster_id"`
	DeptID    int64     `json:"dept_id"`
	StaffID   int64     `json:"staff_id"`
	RoomID    int64     `json:"room_id"`
	ProjectID *int64    `json:"project_id"`
	Day       string    `json:"day"`
	StartAt   time.Time `json:"start_at"`
	EndAt     time.Time `json:"end_at"`
	Capacity  int64     `json:"capacity"`
	Booked    int64     `json:"booked"`
}

// Appointment channels.
const (
	ChannelOnsite = "onsite"
	ChannelPhone  = "phone"
	ChannelWechat = "wechat"
	ChannelPad    = "pad"
	ChannelKiosk  = "kiosk"
)

// ElectronicChannel reports whether a booking channel counts as electronic for
// the smart-service rating (everything but the counter and the phone).
func ElectronicChannel(ch string) bool {
	return ch == ChannelWechat || ch == ChannelPad || ch == ChannelKiosk
}

// Appointment statuses.
const (
	ApptBooked    = "booked"
	ApptCheckedIn = "checked_in"
	ApptCompleted = "completed"
	ApptCancelled = "cancelled"
	ApptNoShow    = "no_show"
)

// Appointment (预约) of a course session in a slot.
type Appointment struct {
	Meta
	State
	PatientID    int64      `json:"patient_id"`
	CourseID     int64      `json:"course_id"`
	SlotID       int64      `json:"slot_id"`
	DeptID       int64      `json:"dept_id"`
	ProjectID    int64      `json:"project_id"`
	Channel      string     `json:"channel"`
	ReceiptNo    string     `json:"receipt_no"`
	PlannedAt    time.Time  `json:"planned_at"`
	BookedAt     time.Time  `json:"booked_at"`
	CheckedInAt  *time.Time `json:"checked_in_at"`
	CancelledAt  *time.Time `json:"cancelled_at"`
	CancelReason string     `json:"cancel_reason"`
}

// Queue ticket statuses.
const (
	TicketWaiting     = "waiting"
	TicketCalled      = "called"
	TicketInTreatment = "in_treatment"
	TicketDone        = "done"
	TicketLeft        = "left"
)

// QueueTicket is a place in the treatment queue (治疗队列), with or without appointment.
type QueueTicket struct {
	Meta
	State
	PatientID     int64      `json:"patient_id"`
	CourseID      int64      `json:"course_id"`
	AppointmentID *int64     `json:"appointment_id"` // nil for walk-ins
	DeptID        int64      `json:"dept_id"`
	ProjectID     int64      `json:"project_id"`
	Day           string     `json:"day"`
	Number        int64      `json:"number"` // queue number of the day in the department
	WalkIn        bool       `json:"walk_in"`
	CheckedInAt   time.Time  `json:"checked_in_at"`
	CalledAt      *time.Time `json:"called_at"`
	StartedAt     *time.Time `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at"`
}

// PaymentCheck is one re-check of payment with the HIS before execution (再次确费).
type PaymentCheck struct {
	Meta
	OrderID   int64     `json:"order_id"`
	OrderNo   string    `json:"order_no"`
	CourseID  int64     `json:"course_id"`
	PatientID int64     `json:"patient_id"`
	Result    string    `json:"result"` // paid, unpaid, refunded
	Source    string    `json:"source"` // adapter name
	CheckedAt time.Time `json:"checked_at"`
}

// Image is a captured treatment image (影像采集), stored as a file under the data folder.
type Image struct {
	Meta
	SessionID   int64     `json:"session_id"`
	PatientID   int64     `json:"patient_id"`
	Phase       string    `json:"phase"` // before, after
	Path        string    `json:"path"`  // relative to the data folder
	SHA256      string    `json:"sha256"`
	SizeBytes   int64     `json:"size_bytes"`
	ContentType string    `json:"content_type"`
	TakenBy     int64     `json:"taken_by"`
	TakenAt     time.Time `json:"taken_at"`
}

// Consent statuses.
const (
	ConsentPending = "pending"
	ConsentSigned  = "signed"
	ConsentRevoked = "revoked"
)

// Consent is an informed-consent e-signature (告知书签字).
type Consent struct {
	Meta
	State
	PatientID       int64      `json:"patient_id"`
	CourseID        int64      `json:"course_id"`
	ProjectID       int64      `json:"project_id"`
	TemplateVersion string     `json:"template_version"`
	SignerName      string     `json:"signer_name"`
	SignerRelation  string     `json:"signer_relation"` // self, spouse, parent, child, guardian
	SignaturePath   string     `json:"signature_path"`
	SignatureSHA256 string     `json:"signature_sha256"`
	ContentHash     string     `json:"content_hash"` // sha256 over template version, patient, course and signature
	WitnessID       int64      `json:"witness_id"`
	SignedAt        *time.Time `json:"signed_at"`
	RevokedAt       *time.Time `json:"revoked_at"`
	TemplateID      int64      `json:"template_id"` // the consent text's revision the signer was shown
	TextSM3         string     `json:"text_sm3"`    // SM3 (hex) of that exact text, as the template holds it
}

// ConsentTemplate is one revision of a project's informed-consent text
// (知情同意书模板). A save makes a new revision and none is edited in place,
// so a consent that names a revision binds exactly the text it was shown.
type ConsentTemplate struct {
	Meta
	ProjectID int64  `json:"project_id"`
	DeptID    int64  `json:"dept_id"`
	Revision  int64  `json:"revision"` // 1, 2, … per project; the highest is in force
	Title     string `json:"title"`
	Body      string `json:"body"`
	TextSM3   string `json:"text_sm3"`  // SM3 (hex) of the title and body as shown (ConsentText)
	EditedBy  int64  `json:"edited_by"` // the account that saved it
	Note      string `json:"note"`      // what changed, for the history
}

// Label is how a signed consent names its text: code@v<revision>.
func (t *ConsentTemplate) Label(projectCode string) string {
	return fmt.Sprintf("%s@v%d", projectCode, t.Revision)
}

// Session statuses.
const (
	SessionInProgress = "in_progress"
	SessionCompleted  = "completed"
	SessionAborted    = "aborted"
)

// Session is one treatment execution (治疗执行).
type Session struct {
	Meta
	State
	CourseID        int64      `json:"course_id"`
	AppointmentID   *int64     `json:"appointment_id"`
	TicketID        *int64     `json:"ticket_id"`
	PatientID       int64      `json:"patient_id"`
	DeptID          int64      `json:"dept_id"`
	ProjectID       int64      `json:"project_id"`
	OrderID         int64      `json:"order_id"`
	SeqNo           int64      `json:"seq_no"` // n-th session of the course
	PerformerID     int64      `json:"performer_id"`
	RoomID          int64      `json:"room_id"`
	VisitType       string     `json:"visit_type"`
	PaymentCheckID  int64      `json:"payment_check_id"`
	ConsentID       *int64     `json:"consent_id"`
	StartedAt       time.Time  `json:"started_at"`
	EndedAt         *time.Time `json:"ended_at"`
	Units           int64      `json:"units"`
	ChargeFen       int64      `json:"charge_fen"`
	ChargeConfirmed bool       `json:"charge_confirmed"`
	AdverseReaction string     `json:"adverse_reaction"`
	AbortReason     string     `json:"abort_reason"`
	// FlaggedAt is set by the close-out when a session is still in
	// progress after the day it started: the department must finish or
	// abort it; the close-out never completes it (its charge and record
	// need a person).
	FlaggedAt  *time.Time `json:"flagged_at"`
	FlagReason string     `json:"flag_reason"`
}

// Record statuses.
const (
	RecordDraft    = "draft"
	RecordSigned   = "signed"
	RecordArchived = "archived"
)

// Record is a structured treatment record (结构化治疗记录), signed and later archived.
type Record struct {
	Meta
	State
	SessionID   int64      `json:"session_id"`
	CourseID    int64      `json:"course_id"`
	PatientID   int64      `json:"patient_id"`
	DeptID      int64      `json:"dept_id"`
	ProjectID   int64      `json:"project_id"`
	ProjectCode string     `json:"project_code"`
	ProjectName string     `json:"project_name"`
	PatientName string     `json:"patient_name"`
	Kind        string     `json:"kind"` // treatment
	Content     string     `json:"content"`
	AuthorID    int64      `json:"author_id"`
	TreatedAt   time.Time  `json:"treated_at"`
	DueAt       time.Time  `json:"due_at"` // signing deadline (timeliness)
	SignerID    *int64     `json:"signer_id"`
	SignedAt    *time.Time `json:"signed_at"`
	SignHash    string     `json:"sign_hash"`
	Signatures  int64      `json:"signatures"` // how many times signed (re-signing after amendment)
	ArchivedAt  *time.Time `json:"archived_at"`
}

// Follow-up statuses.
const (
	FollowupPending   = "pending"
	FollowupDone      = "done"
	FollowupMissed    = "missed"
	FollowupCancelled = "cancelled"
)

// Followup is a follow-up task (随访) generated from the project's plan.
type Followup struct {
	Meta
	State
	CourseID  int64      `json:"course_id"`
	PatientID int64      `json:"patient_id"`
	DeptID    int64      `json:"dept_id"`
	ProjectID int64      `json:"project_id"`
	DayOffset int64      `json:"day_offset"`
	DueDate   string     `json:"due_date"`
	Channel   string     `json:"channel"` // wechat, sms, phone
	DoneAt    *time.Time `json:"done_at"`
	DoneBy    int64      `json:"done_by"`
	Result    string     `json:"result"`
}

// Survey statuses.
const (
	SurveySent     = "sent"
	SurveyAnswered = "answered"
	SurveyExpired  = "expired"
)

// SurveyDimensions are the scored dimensions of the satisfaction survey (1–5 each).
var SurveyDimensions = []string{"environment", "attitude", "skill", "waiting", "explanation", "overall"}

// Survey is a satisfaction survey (满意度调查).
type Survey struct {
	Meta
	State
	PatientID  int64      `json:"patient_id"`
	CourseID   int64      `json:"course_id"`
	FollowupID *int64     `json:"followup_id"`
	DeptID     int64      `json:"dept_id"`
	ProjectID  int64      `json:"project_id"`
	Channel    string     `json:"channel"` // electronic, paper, phone
	SentAt     time.Time  `json:"sent_at"`
	AnsweredAt *time.Time `json:"answered_at"`
	Scores     string     `json:"scores"` // JSON object dimension → 1..5
	Comment    string     `json:"comment"`
}

// Complaint statuses.
const (
	ComplaintOpen    = "open"
	ComplaintReplied = "replied"
	ComplaintClosed  = "closed"
)

// Complaint (投诉).
type Complaint struct {
	Meta
	State
	PatientID  int64      `json:"patient_id"`
	DeptID     int64      `json:"dept_id"`
	CourseID   *int64     `json:"course_id"`
	Category   string     `json:"category"` // waiting, attitude, effect, cost, environment, other
	Channel    string     `json:"channel"`
	Content    string     `json:"content"`
	ReceivedAt time.Time  `json:"received_at"`
	RepliedAt  *time.Time `json:"replied_at"`
	RepliedBy  int64      `json:"replied_by"`
	Reply      string     `json:"reply"`
}

// Notification statuses.
const (
	NotifyQueued = "queued"
	NotifySent   = "sent"
	NotifyFailed = "failed" // waits for its next attempt
	NotifyDead   = "dead"   // failed its last allowed attempt: a dead letter
	// NotifyWithheld: the patient opted out of its level; the inbox still
	// shows it, no channel sends it.
	NotifyWithheld = "withheld"
)

// Notification kinds.
const (
	NotifyAppointment = "appointment"
	NotifyPrecautions = "precautions"
	NotifyReminder    = "reminder"
	NotifyChange      = "change" // 停诊, device failure
	NotifyFollowup    = "followup"
)

// Notification is a message queued for a channel adapter (信息推送).
type Notification struct {
	Meta
	State
	PatientID int64      `json:"patient_id"`
	Kind      string     `json:"kind"`
	Channel   string     `json:"channel"` // wechat, sms, app
	Critical  bool       `json:"critical"`
	RefEntity string     `json:"ref_entity"`
	RefID     int64      `json:"ref_id"`
	Content   string     `json:"content"`
	QueuedAt  time.Time  `json:"queued_at"`
	SentAt    *time.Time `json:"sent_at"`
	Attempts  int64      `json:"attempts"`
	LastError string     `json:"last_error"`
}

func (*Institution) EntityName() string  { return "institution" }
func (*Department) EntityName() string   { return "department" }
func (*Staff) EntityName() string        { return "staff" }
func (*Room) EntityName() string         { return "room" }
func (*Project) EntityName() string      { return "project" }
func (*Patient) EntityName() string      { return "patient" }
func (*Application) EntityName() string  { return "application" }
func (*Assessment) EntityName() string   { return "assessment" }
func (*Course) EntityName() string       { return "course" }
func (*Roster) EntityName() string       { return "roster" }
func (*Slot) EntityName() string         { return "slot" }
func (*Appointment) EntityName() string  { return "appointment" }
func (*QueueTicket) EntityName() string  { return "queue_ticket" }
func (*PaymentCheck) EntityName() string { return "payment_check" }
func (*Image) EntityName() string        { return "image" }
func (*Consent) EntityName() string      { return "consent" }
func (*ConsentTemplate) EntityName() string {
	return "consent_template"
}
func (*Session) EntityName() string      { return "session" }
func (*Record) EntityName() string       { return "record" }
func (*Followup) EntityName() string     { return "followup" }
func (*Survey) EntityName() string       { return "survey" }
func (*Complaint) EntityName() string    { return "complaint" }
func (*Notification) EntityName() string { return "notification" }
