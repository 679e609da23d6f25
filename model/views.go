package model

import "time"

// Read views: what the API returns for screens that join several entities.

// QueueEntry is a queue ticket with the patient's name, for the queue screen.
type QueueEntry struct {
	*QueueTicket
	PatientName string `json:"patient_name"`
}

// ApplicationDetail is an application with its orders, assessments and course.
type ApplicationDetail struct {
	Application *Application  `json:"application"`
	Orders      []*Order      `json:"orders"`
	Assessments []*Assessment `json:"assessments"`
	Course      *Course       `json:"course"`
}

// PatientArchive is a patient's treatment archive: courses, sessions and records.
type PatientArchive struct {
	Patient  *Patient   `json:"patient"`
	Courses  []*Course  `json:"courses"`
	Sessions []*Session `json:"sessions"`
	Records  []*Record  `json:"records"`
	// Signatures says for each record id whether its signature holds:
	// valid, altered (changed after signing), invalid, missing (signed
	// without an SM2 key) or unsigned (a draft).
	Signatures map[int64]string `json:"signatures"`
	// Rendered are the records as people read them (RenderRecord), by record id.
	Rendered map[int64][]RecordLine `json:"rendered"`
	// Consents are the patient's consents with the exact text each binds.
	Consents []SignedConsentText `json:"consents"`
}

// ProjectConsentText is a project that needs a consent with its text in
// force (nil: none yet).
type ProjectConsentText struct {
	Project *Project         `json:"project"`
	Current *ConsentTemplate `json:"current"`
}

// SignedConsentText is a consent with the text it was signed under, as the
// archive shows it.
type SignedConsentText struct {
	Consent  *Consent         `json:"consent"`
	Template *ConsentTemplate `json:"template"` // nil: signed before consent texts were kept
	// Intact: the text's SM3 digest today equals the one stored when it
	// was signed (false: the stored text was altered since).
	Intact bool `json:"intact"`
}

// PatientHome is what a patient sees through their link.
type PatientHome struct {
	Today        string           `json:"today"` // the service's day (China time), for the page's labels
	Appointments []*Appointment   `json:"appointments"`
	Precautions  []*Notification  `json:"precautions"`
	Surveys      []*Survey        `json:"surveys"`
	Tickets      []PatientTicket  `json:"tickets"`     // today's places in a queue
	Complaints   []*Complaint     `json:"complaints"`  // with the department's replies
	Notices      []*Notification  `json:"notices"`     // the inbox, newest first
	Departments  map[int64]string `json:"departments"` // names of the departments the rows name
	// ComplaintDepts are the departments the complaint form offers: those of
	// upcoming appointments, open surveys, and treatments of the last 90 days.
	ComplaintDepts []int64 `json:"complaint_depts"`
	// ConsentTexts are the consent texts in force for the projects of the
	// patient's appointments that need one, by project, to read before coming.
	ConsentTexts map[int64]*ConsentTemplate `json:"consent_texts"`
	Projects     map[int64]string           `json:"projects"` // names of the projects the rows name
}

// PatientTicket is a patient's own place in a department's queue today.
type PatientTicket struct {
	*QueueTicket
	DeptName string `json:"dept_name"`
	// Ahead counts the tickets still waiting with a smaller number: the
	// people before this patient.
	Ahead int64 `json:"ahead"`
	// Calling is the number the department called last today (0: none yet).
	Calling int64 `json:"calling"`
}

// QueueBoard is what a waiting-room display shows of a department's queue
// today: numbers and masked names only (MaskName), never a whole name.
type QueueBoard struct {
	DeptID   int64        `json:"dept_id"`
	DeptName string       `json:"dept_name"`
	Day      string       `json:"day"`
	Calling  []BoardEntry `json:"calling"` // called or in treatment, the latest call first
	Waiting  []BoardEntry `json:"waiting"` // in number order
	Done     int64        `json:"done"`    // finished today
}

// BoardEntry is one ticket on the waiting-room display.
type BoardEntry struct {
	Number   int64      `json:"number"`
	Name     string     `json:"name"` // masked: 张*三
	Status   string     `json:"status"`
	WalkIn   bool       `json:"walk_in"`
	CalledAt *time.Time `json:"called_at,omitempty"`
	// Room is where a called patient goes: the treatment's room once it
	// started, else the booked slot's; "" for a walk-in not yet placed.
	Room string `json:"room,omitempty"`
}

// Display is a waiting-room display's link (its token is shown once, when made).
type Display struct {
	ID            int64      `json:"id"`
	InstitutionID int64      `json:"institution_id"`
	DeptID        int64      `json:"dept_id"`
	Label         string     `json:"label"`
	CreatedBy     int64      `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
}

// OutgoingNotice is a notice due for delivery with what a gateway needs to
// reach the patient: the phone, and the name masked (the message names
// the patient only as far as a lock screen may show).
type OutgoingNotice struct {
	*Notification
	Phone       string `json:"phone"`
	PatientName string `json:"patient_name"` // masked
}

// NoticeDelivery is one attempt of a channel adapter to deliver a notice.
type NoticeDelivery struct {
	NotificationID int64     `json:"notification_id"`
	Attempt        int64     `json:"attempt"`
	Channel        string    `json:"channel"`
	At             time.Time `json:"at"`
	OK             bool      `json:"ok"`
	Error          string    `json:"error"`
}

// Workstation is the therapist's tablet view of today (治疗工作站): the
// department's queue with what each ticket needs before and during the
// treatment.
type Workstation struct {
	Today    string       `json:"today"`
	StaffID  int64        `json:"staff_id"`
	DeptID   int64        `json:"dept_id"`
	DeptName string       `json:"dept_name"`
	Rooms    []*Room      `json:"rooms"`
	Tickets  []WorkTicket `json:"tickets"`
	// Templates are the record forms of the tickets' project categories.
	Templates map[string][]RecordField `json:"templates"`
	// Intake is the department's work before the queue: paid orders not
	// yet merged into an application, and applications waiting for their
	// initial assessment or their course plan.
	Orders       []IntakeOrder       `json:"orders"`
	Applications []IntakeApplication `json:"applications"`
}

// IntakeOrder is a paid HIS order waiting to be merged into an application.
type IntakeOrder struct {
	*Order
	PatientName string `json:"patient_name"`
	MRN         string `json:"mrn"`
}

// IntakeApplication is an application waiting for assessment or a plan.
type IntakeApplication struct {
	*Application
	PatientName string `json:"patient_name"`
	ProjectName string `json:"project_name"`
}

// WorkTicket is one ticket of the therapist's queue.
type WorkTicket struct {
	QueueEntry
	Project       *Project `json:"project"`
	Course        *Course  `json:"course"`         // done / planned sessions
	ConsentSigned bool     `json:"consent_signed"` // a live consent for the course
	Session       *Session `json:"session"`        // the session of this ticket, once started
	Images        int64    `json:"images"`         // photos bound to that session
	Record        *Record  `json:"record"`         // its record, once completed
	SurveySent    bool     `json:"survey_sent"`    // a satisfaction survey went out for this visit (since the check-in)
	// ConsentText is the project's consent text in force, shown in full
	// before the signature (nil: the project needs no consent or has no text).
	ConsentText *ConsentTemplate `json:"consent_text"`
	// RecordLines are the record as the clinician reviews and signs it
	// (RenderRecord): labels, values and units.
	RecordLines []RecordLine `json:"record_lines,omitempty"`
}

// PatientIdentity is a patient's name and MRN, for a reader who may
// identify them.
type PatientIdentity struct {
	Name string `json:"name"`
	MRN  string `json:"mrn"`
}

// DeskPatient is a patient the front desk found (SearchPatients), with the
// department's bookings still to come and the open courses.
type DeskPatient struct {
	Patient      *Patient       `json:"patient"`
	Appointments []*Appointment `json:"appointments"`
	Courses      []*Course      `json:"courses"`
}

// DeskDay is the front desk's view of a department's day (前台工作台): the
// departments it may pick from, the day's appointments and queue, the
// bookable slots and the active courses that still have sessions to book.
type DeskDay struct {
	Now          time.Time         `json:"now"` // the service's clock: a slot already begun is not bookable
	Today        string            `json:"today"`
	Day          string            `json:"day"`
	DeptID       int64             `json:"dept_id"`
	Departments  []*Department     `json:"departments"`
	Appointments []DeskAppointment `json:"appointments"`
	Queue        []QueueEntry      `json:"queue"`
	Slots        []*Slot           `json:"slots"`
	Courses      []DeskCourse      `json:"courses"`
	Projects     map[int64]string  `json:"projects"`
	Staff        map[int64]string  `json:"staff"`
	Rooms        map[int64]string  `json:"rooms"`
	// Institution and Precautions go on the receipt: the hospital's name
	// and each project's 注意事项.
	Institution string           `json:"institution"`
	Precautions map[int64]string `json:"precautions"`
}

// DeskAppointment is an appointment of the day with the patient's name.
type DeskAppointment struct {
	*Appointment
	PatientName string `json:"patient_name"`
	MRN         string `json:"mrn"`
}

// DeskCourse is an active course with sessions left to book.
type DeskCourse struct {
	*Course
	PatientName string `json:"patient_name"`
	MRN         string `json:"mrn"`
	Booked      int64  `json:"booked"` // appointments booked or checked in, not yet done
}

// ClinicalQuery selects rows of one clinical kind for a reader (the FHIR
// searches): in the reader's scope, optionally of one patient or one id,
// within [From, To) on the kind's time, of some statuses, a page of them.
type ClinicalQuery struct {
	ID, PatientID int64
	DeptID        int64      // one department (a FHIR Group), in scope
	Since         *time.Time // changed at or after (a bulk export's _since)
	From, To      *time.Time
	Statuses      []string
	Desc          bool
	Limit, Offset int
}
