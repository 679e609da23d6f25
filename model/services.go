package model

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// HIS intake actions.
const (
	HISNew     = "new"
	HISChange  = "change"
	HISCancel  = "cancel"
	HISPay     = "pay"
	HISRefund  = "refund"
	maxTextLen = 4000
)

var identRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$`)

// ValidIdentifier reports whether s is an acceptable external identifier
// (order numbers, codes, receipt numbers): 1–64 ASCII letters, digits, . _ -.
func ValidIdentifier(s string) bool { return identRe.MatchString(s) }

// ParseDay parses a YYYY-MM-DD day.
func ParseDay(field, s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, Invalid(field, "%s 不是有效日期 YYYY-MM-DD (invalid date %q)", field, s)
	}
	return t, nil
}

func checkText(field, s string, required bool) error {
	if required && s == "" {
		return Invalid(field, "%s 不能为空 (required)", field)
	}
	if len(s) > maxTextLen {
		return Invalid(field, "%s 过长 (longer than %d bytes)", field, maxTextLen)
	}
	return nil
}

func checkIdent(field, s string) error {
	if !ValidIdentifier(s) {
		return Invalid(field, "%s 格式无效 (invalid identifier %q)", field, s)
	}
	return nil
}

func checkID(field string, id int64) error {
	if id <= 0 {
		return Invalid(field, "%s 必须为正整数 (must be a positive id)", field)
	}
	return nil
}

// OrderMessage is a HIS message about one order: new, changed or cancelled
// (with its payment status), or a payment or refund. It is idempotent by
// (OrderNo, MessageID).
type OrderMessage struct {
	InstitutionID int64     `json:"institution_id"`
	MessageID     string    `json:"message_id"`
	Action        string    `json:"action"` // new, change, cancel, pay, refund
	OrderNo       string    `json:"order_no"`
	PatientMRN    string    `json:"patient_mrn"`
	PatientName   string    `json:"patient_name"` // with the demographics below, registers an unknown patient (PID segment)
	Gender        string    `json:"gender"`
	BirthDate     string    `json:"birth_date"`
	Phone         string    `json:"phone"`
	IDNumber      string    `json:"id_number"`
	ProjectCode   string    `json:"project_code"`
	Quantity      int64     `json:"quantity"`
	VisitType     string    `json:"visit_type"`
	DiagnosisCode string    `json:"diagnosis_code"`
	DiagnosisName string    `json:"diagnosis_name"`
	OrderedBy     string    `json:"ordered_by"`
	OrderedAt     time.Time `json:"ordered_at"`
	Paid          bool      `json:"paid"`       // payment status at the time of a new/change message
	RefundFen     int64     `json:"refund_fen"` // for refunds; 0 = the unused part
}

var icd10Re = regexp.MustCompile(`^[A-TV-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$`)

// Validate checks a HIS message before any write.
func (m *OrderMessage) Validate() error {
	if err := checkID("institution_id", m.InstitutionID); err != nil {
		return err
	}
	if err := checkIdent("message_id", m.MessageID); err != nil {
		return err
	}
	if err := checkIdent("order_no", m.OrderNo); err != nil {
		return err
	}
	switch m.Action {
	case HISNew, HISChange:
		if err := checkIdent("patient_mrn", m.PatientMRN); err != nil {
			return err
		}
		if err := checkIdent("project_code", m.ProjectCode); err != nil {
			return err
		}
		if m.Quantity <= 0 || m.Quantity > 200 {
			return Invalid("quantity", "数量必须在 1–200 之间 (quantity must be 1..200)")
		}
		if m.VisitType != VisitOutpatient && m.VisitType != VisitInpatient {
			return Invalid("visit_type", "就诊类型必须是 outpatient 或 inpatient")
		}
		if !icd10Re.MatchString(m.DiagnosisCode) {
			return Invalid("diagnosis_code", "诊断编码不是有效的 ICD-10 (invalid ICD-10 code %q)", m.DiagnosisCode)
		}
		if err := checkText("diagnosis_name", m.DiagnosisName, false); err != nil {
			return err
		}
		if m.OrderedAt.IsZero() {
			return Invalid("ordered_at", "开单时间不能为空 (required)")
		}
		if err := m.validateDemographics(); err != nil {
			return err
		}
	case HISCancel, HISPay:
	case HISRefund:
		if m.RefundFen < 0 {
			return Invalid("refund_fen", "退费金额不能为负 (negative amount)")
		}
	default:
		return Invalid("action", "未知动作 %q (unknown action)", m.Action)
	}
	return nil
}

// NewApplication merges one or more paid orders of one patient.
type NewApplication struct {
	OrderIDs  []int64 `json:"order_ids"`
	AppliedBy int64   `json:"applied_by"` // staff id
	Note      string  `json:"note"`
}

func (r *NewApplication) Validate() error {
	if len(r.OrderIDs) == 0 || len(r.OrderIDs) > 20 {
		return Invalid("order_ids", "需要 1–20 个医嘱 (1..20 orders)")
	}
	for _, id := range r.OrderIDs {
		if err := checkID("order_ids", id); err != nil {
			return err
		}
	}
	if err := checkID("applied_by", r.AppliedBy); err != nil {
		return err
	}
	return checkText("note", r.Note, false)
}

// NewAssessment records a structured assessment against an application.
type NewAssessment struct {
	ApplicationID int64             `json:"application_id"`
	Kind          string            `json:"kind"` // initial, interim, final
	Answers       map[string]string `json:"answers"`
	Score         int64             `json:"score"`
	AssessorID    int64             `json:"assessor_id"`
	Sign          bool              `json:"sign"`
}

func (r *NewAssessment) Validate() error {
	if err := checkID("application_id", r.ApplicationID); err != nil {
		return err
	}
	if r.Kind != "initial" && r.Kind != "interim" && r.Kind != "final" {
		return Invalid("kind", "评估类型必须是 initial/interim/final")
	}
	if len(r.Answers) == 0 {
		return Invalid("answers", "评估内容不能为空 (required)")
	}
	for k, v := range r.Answers {
		if err := checkText("answers."+k, v, false); err != nil {
			return err
		}
	}
	if r.Score < 0 || r.Score > 100 {
		return Invalid("score", "评分必须在 0–100 之间")
	}
	return checkID("assessor_id", r.AssessorID)
}

// NewRoster creates a roster and its slots.
type NewRoster struct {
	DeptID      int64  `json:"dept_id"`
	StaffID     int64  `json:"staff_id"`
	RoomID      int64  `json:"room_id"`
	ProjectID   *int64 `json:"project_id"`
	Day         string `json:"day"`
	Shift       string `json:"shift"` // am, pm
	Start       string `json:"start"` // HH:MM local
	End         string `json:"end"`
	SlotMinutes int64  `json:"slot_minutes"`
	Capacity    int64  `json:"capacity"`
}

func (r *NewRoster) Validate() error {
	for f, id := range map[string]int64{"dept_id": r.DeptID, "staff_id": r.StaffID, "room_id": r.RoomID} {
		if err := checkID(f, id); err != nil {
			return err
		}
	}
	if _, err := ParseDay("day", r.Day); err != nil {
		return err
	}
	if r.Shift != "am" && r.Shift != "pm" && r.Shift != "night" {
		return Invalid("shift", "班次必须是 am/pm/night")
	}
	s, err1 := time.Parse("15:04", r.Start)
	e, err2 := time.Parse("15:04", r.End)
	if err1 != nil {
		return Invalid("start", "开始时间格式应为 HH:MM")
	} else if err2 != nil {
		return Invalid("end", "结束时间格式应为 HH:MM")
	} else if !e.After(s) {
		return Invalid("end", "结束时间必须晚于开始时间 (end before start)")
	}
	if r.SlotMinutes < 5 || r.SlotMinutes > 240 {
		return Invalid("slot_minutes", "号源时长必须在 5–240 分钟之间")
	}
	if r.Capacity < 1 || r.Capacity > 100 {
		return Invalid("capacity", "容量必须在 1–100 之间")
	}
	return nil
}

// NewAppointment books a course session into a slot.
type NewAppointment struct {
	CourseID int64  `json:"course_id"`
	SlotID   int64  `json:"slot_id"`
	Channel  string `json:"channel"`
}

func (r *NewAppointment) Validate() error {
	if err := checkID("course_id", r.CourseID); err != nil {
		return err
	}
	if err := checkID("slot_id", r.SlotID); err != nil {
		return err
	}
	switch r.Channel {
	case ChannelOnsite, ChannelPhone, ChannelWechat, ChannelPad, ChannelKiosk:
		return nil
	}
	return Invalid("channel", "预约渠道无效 %q (onsite/phone/wechat/pad/kiosk)", r.Channel)
}

// NewConsent is an e-signed consent for a course.
// NewConsentTemplate is a department manager's new revision of a
// project's consent text.
type NewConsentTemplate struct {
	ProjectID int64  `json:"project_id"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	Note      string `json:"note"` // what changed
}

// Limits of a consent text: long enough to inform, short enough to read on a tablet.
const (
	ConsentTitleMax = 60   // characters
	ConsentBodyMin  = 50   // characters
	ConsentBodyMax  = 8000 // characters
)

func (r *NewConsentTemplate) Validate() error {
	if err := checkID("project_id", r.ProjectID); err != nil {
		return err
	}
	r.Title, r.Body, r.Note = strings.TrimSpace(r.Title), strings.TrimSpace(strings.ReplaceAll(r.Body, "\r\n", "\n")), strings.TrimSpace(r.Note)
	if n := utf8.RuneCountInString(r.Title); n == 0 || n > ConsentTitleMax || strings.ContainsAny(r.Title, "\n\t") {
		return Invalid("title", "标题须为一行 1–%d 个字", ConsentTitleMax)
	}
	if n := utf8.RuneCountInString(r.Body); n < ConsentBodyMin || n > ConsentBodyMax {
		return Invalid("body", "正文须为 %d–%d 个字（现为 %d 个字）", ConsentBodyMin, ConsentBodyMax, n)
	}
	if utf8.RuneCountInString(r.Note) > 200 {
		return Invalid("note", "修改说明不超过 200 个字")
	}
	for field, v := range map[string]string{"title": r.Title, "body": r.Body, "note": r.Note} {
		if !utf8.ValidString(v) || strings.ContainsFunc(v, func(c rune) bool { return c < 0x20 && c != '\n' && c != '\t' || c == 0x7f }) {
			return Invalid(field, "含有无效字符 (control characters)")
		}
	}
	return nil
}

// ConsentText is the exact text a consent binds: the title, a blank line,
// the body. The SM3 digest a signed consent stores is over these bytes.
func ConsentText(title, body string) string { return title + "\n\n" + body }

type NewConsent struct {
	CourseID int64 `json:"course_id"`
	// TemplateID is the revision of the consent text shown to the signer,
	// in full, before the signature: it must be the one in force.
	TemplateID     int64  `json:"template_id"`
	SignerName     string `json:"signer_name"`
	SignerRelation string `json:"signer_relation"`
	Signature      []byte `json:"signature"` // signature image (PNG)
	WitnessID      int64  `json:"witness_id"`
}

func (r *NewConsent) Validate() error {
	if err := checkID("course_id", r.CourseID); err != nil {
		return err
	}
	if err := checkText("signer_name", r.SignerName, true); err != nil {
		return err
	}
	switch r.SignerRelation {
	case "self", "spouse", "parent", "child", "guardian", "other":
	default:
		return Invalid("signer_relation", "签字人关系无效 (self/spouse/parent/child/guardian/other)")
	}
	if len(r.Signature) < 16 || len(r.Signature) > 2<<20 {
		return Invalid("signature", "签名图像缺失或过大 (16 B..2 MiB)")
	}
	return checkID("witness_id", r.WitnessID)
}

// NewImage is a captured image of a session.
type NewImage struct {
	SessionID   int64  `json:"session_id"`
	Phase       string `json:"phase"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"-"`
	TakenBy     int64  `json:"taken_by"`
}

func (r *NewImage) Validate() error {
	if err := checkID("session_id", r.SessionID); err != nil {
		return err
	}
	if r.Phase != "before" && r.Phase != "after" {
		return Invalid("phase", "阶段必须是 before 或 after")
	}
	if r.ContentType != "image/png" && r.ContentType != "image/jpeg" {
		return Invalid("content_type", "只接受 image/png 或 image/jpeg")
	}
	if len(r.Data) == 0 || len(r.Data) > 20<<20 {
		return Invalid("data", "图像为空或超过 20 MiB")
	}
	return checkID("taken_by", r.TakenBy)
}

// StartSession starts a treatment from a queue ticket.
type StartSession struct {
	TicketID    int64 `json:"ticket_id"`
	PerformerID int64 `json:"performer_id"`
	RoomID      int64 `json:"room_id"`
}

func (r *StartSession) Validate() error {
	if err := checkID("ticket_id", r.TicketID); err != nil {
		return err
	}
	if err := checkID("performer_id", r.PerformerID); err != nil {
		return err
	}
	return checkID("room_id", r.RoomID)
}

// CompleteSession ends a treatment, confirms the charge and drafts its record.
type CompleteSession struct {
	SessionID       int64  `json:"session_id"`
	Units           int64  `json:"units"`
	AdverseReaction string `json:"adverse_reaction"`
	RecordContent   string `json:"record_content"` // structured record as JSON
}

func (r *CompleteSession) Validate() error {
	if err := checkID("session_id", r.SessionID); err != nil {
		return err
	}
	if r.Units < 1 || r.Units > 20 {
		return Invalid("units", "单位数必须在 1–20 之间")
	}
	if err := checkText("adverse_reaction", r.AdverseReaction, false); err != nil {
		return err
	}
	return checkText("record_content", r.RecordContent, true)
}

// FollowupResult completes a follow-up, optionally with survey answers.
type FollowupResult struct {
	DoneBy  int64            `json:"done_by"`
	Result  string           `json:"result"`
	Channel string           `json:"channel"` // electronic, phone, paper: how the answers were collected
	Scores  map[string]int64 `json:"scores"`  // nil: no survey
	Comment string           `json:"comment"`
	// Via is how the follow-up reached the patient (wechat, sms, phone);
	// empty keeps the planned channel. 智慧服务 患者管理 counts wechat and sms.
	Via string `json:"via,omitempty"`
}

func (r *FollowupResult) Validate() error {
	if err := checkText("result", r.Result, true); err != nil {
		return err
	}
	if r.Via != "" && r.Via != "wechat" && r.Via != "sms" && r.Via != "phone" {
		return Invalid("via", "随访方式必须是 wechat/sms/phone")
	}
	if r.Scores != nil {
		if err := ValidateScores(r.Scores); err != nil {
			return err
		}
		if r.Channel != "electronic" && r.Channel != "phone" && r.Channel != "paper" {
			return Invalid("channel", "问卷渠道必须是 electronic/phone/paper")
		}
	}
	return checkText("comment", r.Comment, false)
}

// ValidateScores checks survey scores: known dimensions, 1..5.
func ValidateScores(scores map[string]int64) error {
	if len(scores) == 0 {
		return Invalid("scores", "评分不能为空")
	}
	known := map[string]bool{}
	for _, d := range SurveyDimensions {
		known[d] = true
	}
	for k, v := range scores {
		if !known[k] {
			return Invalid("scores."+k, "未知评分维度 %q", k)
		}
		if v < 1 || v > 5 {
			return Invalid("scores."+k, "评分必须在 1–5 之间")
		}
	}
	return nil
}

// NewComplaint files a complaint.
type NewComplaint struct {
	PatientID int64  `json:"patient_id"`
	DeptID    int64  `json:"dept_id"`
	CourseID  *int64 `json:"course_id"`
	Category  string `json:"category"`
	Channel   string `json:"channel"`
	Content   string `json:"content"`
}

func (r *NewComplaint) Validate() error {
	if err := checkID("patient_id", r.PatientID); err != nil {
		return err
	}
	if err := checkID("dept_id", r.DeptID); err != nil {
		return err
	}
	switch r.Category {
	case "waiting", "attitude", "effect", "cost", "environment", "adverse", "other":
	default:
		return Invalid("category", "投诉类别无效 %q", r.Category)
	}
	if r.Channel != "electronic" && r.Channel != "phone" && r.Channel != "onsite" {
		return Invalid("channel", "投诉渠道必须是 electronic/phone/onsite")
	}
	return checkText("content", r.Content, true)
}

// CatalogService maintains institutions, departments, staff, rooms, projects and patients.
type CatalogService interface {
	CreateInstitution(ctx context.Context, v *Institution) error
	CreateDepartment(ctx context.Context, v *Department) error
	CreateStaff(ctx context.Context, v *Staff) error
	CreateRoom(ctx context.Context, v *Room) error
	CreateProject(ctx context.Context, v *Project) error
	CreatePatient(ctx context.Context, v *Patient) error
	ProjectByCode(ctx context.Context, institutionID int64, code string) (*Project, error)
	PatientByMRN(ctx context.Context, institutionID int64, mrn string) (*Patient, error)
}

// OrderService takes HIS order and payment messages.
type OrderService interface {
	ReceiveOrder(ctx context.Context, m OrderMessage) (*Order, error)
	Order(ctx context.Context, id int64) (*Order, error)
}

// ApplicationService runs applications, assessments and course plans.
type ApplicationService interface {
	CreateApplication(ctx context.Context, r NewApplication) (*Application, error)
	AddAssessment(ctx context.Context, r NewAssessment) (*Assessment, error)
	PlanCourse(ctx context.Context, applicationID, plannedBy int64) (*Course, error)
	CancelCourse(ctx context.Context, courseID int64, reason string) (*Course, error)
	ArchiveCourse(ctx context.Context, courseID int64) (*Course, error)
}

// ScheduleService runs rosters, slots, appointments and the queue.
type ScheduleService interface {
	CreateRoster(ctx context.Context, r NewRoster) (*Roster, []*Slot, error)
	StopRoster(ctx context.Context, rosterID int64, reason string) (*Roster, error)
	BookAppointment(ctx context.Context, r NewAppointment) (*Appointment, error)
	CancelAppointment(ctx context.Context, id int64, reason string) (*Appointment, error)
	MarkNoShow(ctx context.Context, id int64) (*Appointment, error)
	CheckIn(ctx context.Context, appointmentID int64) (*QueueTicket, error)
	WalkIn(ctx context.Context, courseID int64) (*QueueTicket, error)
	CallTicket(ctx context.Context, ticketID int64) (*QueueTicket, error)
	// CloseOut applies the end-of-day rules to everything due at the
	// store's clock (DESIGN §14), for one department or (0) all.
	CloseOut(ctx context.Context, institutionID, deptID int64) (CloseOutResult, error)
}

// CloseOutResult counts what one close-out pass changed.
type CloseOutResult struct {
	NoShows         int `json:"no_shows"`         // bookings not checked in by their slot's end plus the grace
	TicketsClosed   int `json:"tickets_closed"`   // queue tickets of an earlier day never started
	CheckinsClosed  int `json:"checkins_closed"`  // of those, checked-in appointments closed as cancelled
	SessionsFlagged int `json:"sessions_flagged"` // sessions still in progress after their day
}

// Changed reports whether the pass changed anything.
func (r CloseOutResult) Changed() bool {
	return r.NoShows+r.TicketsClosed+r.SessionsFlagged > 0
}

// PaymentChecker is the HIS adapter for the payment re-check before execution.
type PaymentChecker interface {
	// CheckPayment returns OrderPaid, OrderUnpaid or OrderRefunded as the HIS sees it now.
	CheckPayment(ctx context.Context, institutionID int64, orderNo string) (string, error)
	Name() string
}

// ExecutionService runs consents, images, sessions, records and archives.
type ExecutionService interface {
	SignConsent(ctx context.Context, r NewConsent) (*Consent, error)
	RevokeConsent(ctx context.Context, id int64) (*Consent, error)
	StartSession(ctx context.Context, r StartSession) (*Session, error)
	AddImage(ctx context.Context, r NewImage) (*Image, error)
	CompleteSession(ctx context.Context, r CompleteSession) (*Session, *Record, error)
	AbortSession(ctx context.Context, id int64, reason string) (*Session, error)
	SignRecord(ctx context.Context, recordID, signerID int64) (*Record, error)
	AmendRecord(ctx context.Context, recordID int64, content string) (*Record, error)
}

// FollowupService runs follow-ups, surveys, complaints and notifications.
type FollowupService interface {
	CompleteFollowup(ctx context.Context, id int64, r FollowupResult) (*Followup, *Survey, error)
	MissFollowup(ctx context.Context, id int64) (*Followup, error)
	SendSurvey(ctx context.Context, courseID int64, channel string) (*Survey, error)
	AnswerSurvey(ctx context.Context, id int64, scores map[string]int64, comment string) (*Survey, error)
	FileComplaint(ctx context.Context, r NewComplaint) (*Complaint, error)
	ReplyComplaint(ctx context.Context, id, staffID int64, reply string) (*Complaint, error)
	QueueReminders(ctx context.Context, institutionID int64, day string) (int, error)
	MarkNotification(ctx context.Context, id int64, sent bool, errText string) (*Notification, error)
}

// Local is the hospital's wall-clock zone (China Standard Time, no DST).
// Days (roster days, queue days, mart day grain) are local days.
var Local = time.FixedZone("CST", 8*3600)

// DayOf returns the local day of t as YYYY-MM-DD.
func DayOf(t time.Time) string { return t.In(Local).Format("2006-01-02") }
