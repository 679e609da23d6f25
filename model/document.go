package model

import "time"

// Shared documents (DESIGN.md §11): the WS/T 500 CDA documents made from
// signed records and consents, and the registry that keeps every version.

// Document kinds.
const (
	DocTreatmentRecord = "treatment_record" // 治疗记录, from a signed record
	DocConsent         = "consent"          // 知情同意书, from a signed consent
)

// DocKindTitles are the kinds' Chinese titles.
var DocKindTitles = map[string]string{DocTreatmentRecord: "治疗记录", DocConsent: "知情同意书"}

// DocumentSource is what a document is made from: a record as signed the
// Version-th time, or a consent (version 1).
type DocumentSource struct {
	Kind     string `json:"kind"`
	SourceID int64  `json:"source_id"`
	Version  int64  `json:"version"`
}

// DocumentFacts are the core's facts a document is built from, read as the
// system (the patient in clear; the registry masks on the way out).
type DocumentFacts struct {
	Source      DocumentSource
	Institution *Institution
	Dept        *Department
	Patient     *Patient
	Author      *Staff // who wrote the record (or witnessed the consent)
	Signer      *Staff // who signed it
	SignedAt    time.Time
	Project     *Project
	Record      *Record
	Session     *Session
	Order       *Order
	Consent     *Consent
	Text        *ConsentTemplate // the consent's text as signed
	// Previous is the document id (DocUID) of the version this one replaces.
	Previous string
}

// NewDocument is a built document to register.
type NewDocument struct {
	Source  DocumentSource
	DocUID  string // the CDA document id (文档流水号)
	SetUID  string
	Content []byte // the CDA XML
	Facts   *DocumentFacts
}

// Document is a registry entry: the metadata of one version.
type Document struct {
	ID            int64     `json:"id"`
	InstitutionID int64     `json:"institution_id"`
	DeptID        int64     `json:"dept_id"`
	PatientID     int64     `json:"patient_id"`
	Kind          string    `json:"kind"`
	KindTitle     string    `json:"kind_title"`
	SourceID      int64     `json:"source_id"`
	Version       int64     `json:"version"`
	DocUID        string    `json:"doc_uid"`
	SetUID        string    `json:"set_uid"`
	ReplacesID    *int64    `json:"replaces_id"`
	ReplacedByID  *int64    `json:"replaced_by_id"`
	EffectiveAt   time.Time `json:"effective_at"` // when its source was signed
	CreatedAt     time.Time `json:"created_at"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	SM3           string    `json:"sm3"`
	KeyOwner      string    `json:"key_owner"` // the key that signed it ("" unsigned: a core without keys)
}

// DocumentQuery selects registry entries. PatientID or NationalID names
// the patient (one of them, or neither for a department's list).
type DocumentQuery struct {
	PatientID  int64
	NationalID string
	Kind       string
	From, To   string // days, inclusive, of EffectiveAt
	Limit      int
	Offset     int
}

// DocumentFailure is a source that could not become a document: the field
// it lacks, for the quality office to correct.
type DocumentFailure struct {
	ID        int64     `json:"id"`
	DeptID    int64     `json:"dept_id"`
	Kind      string    `json:"kind"`
	SourceID  int64     `json:"source_id"`
	Version   int64     `json:"version"`
	Field     string    `json:"field"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
}

// DocumentCheck is a registry entry's signature checked against its content.
type DocumentCheck struct {
	Intact bool   `json:"intact"`
	Reason string `json:"reason,omitempty"`
}

// InteropMonth is one month's 互联互通 figures of one row: a document kind
// or a service.
type InteropMonth struct {
	Month string // 2026-09
	Name  string // the document kind's or the service's title
	// Count: documents registered, or calls made; Failed: documents that
	// could not be made, or calls answered ≥ 400 (messages given up).
	Count, Failed int64
	// MedianSeconds is the median time from the source's signature to the
	// document's registration, or from a message queued to its ACK; -1
	// where it is not recorded (the API's calls).
	MedianSeconds float64
}

// InteropStats are the 互联互通 figures of a period.
type InteropStats struct {
	Documents, Services []InteropMonth
}
