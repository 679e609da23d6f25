// Package fhir maps the treatment lifecycle to HL7 FHIR R4 resources
// (Patient, Practitioner, Organization, ServiceRequest, Appointment,
// Procedure, Consent, DocumentReference) with their national identifier and
// code systems, the evaluator's de-identified view, the search parameters
// each type takes (ParseSearch, fuzzed) and the CapabilityStatement that
// lists exactly that. The resource types are github.com/samply/golang-fhir-models
// (generated from the R4 structure definitions: one struct per resource,
// JSON as the specification writes it); this package knows no database and
// no HTTP: the API's FHIR routes read the core and hand the rows here.
package fhir

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	r4 "github.com/samply/golang-fhir-models/fhir-models/fhir"

	"github.com/zhiliao/zhiliao/model"
)

// Identifier and code systems.
const (
	SystemNationalID  = "urn:oid:2.16.156.10011.1.3" // 居民身份证号
	SystemStaff       = "urn:oid:2.16.156.10011.1.4" // 医务人员编号
	SystemInstitution = "urn:oid:2.16.156.10011.1.5" // 医疗卫生机构编号
	SystemDepartment  = "urn:oid:2.16.156.10011.1.26"
	SystemDocType     = "urn:oid:2.16.156.10011.2.4" // 卫生信息共享文档规范编码体系
	SystemICD10       = "http://hl7.org/fhir/sid/icd-10"
	SystemLOINC       = "http://loinc.org"
)

// Systems are the hospital's own identifier and code systems, under its
// registered OID (--oid-root).
type Systems struct{ Root string }

func (s Systems) MRN() string        { return "urn:oid:" + s.Root + ".4" } // 病案号
func (s Systems) ChargeCode() string { return "urn:oid:" + s.Root + ".1" } // 收费项目代码
func (s Systems) OrderNo() string    { return "urn:oid:" + s.Root + ".3" } // HIS 医嘱号

// View says how a reader sees patients: in clear, or de-identified
// (names masked, national ID, phone and free text left out, the MRN
// masked, the birth date to its year).
type View struct {
	Systems
	Deidentified bool
}

func ptr[T any](v T) *T { return &v }

func instant(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	return ptr(t.UTC().Format(time.RFC3339))
}

func ref(kind string, id int64) *r4.Reference {
	if id == 0 {
		return nil
	}
	return &r4.Reference{Reference: ptr(kind + "/" + strconv.FormatInt(id, 10))}
}

func id(n int64) *string { return ptr(strconv.FormatInt(n, 10)) }

func meta(m model.Meta) *r4.Meta {
	return &r4.Meta{VersionId: ptr(strconv.FormatInt(m.Version, 10)), LastUpdated: instant(m.UpdatedAt)}
}

func code(system, c, display string) r4.CodeableConcept {
	cc := r4.CodeableConcept{Coding: []r4.Coding{{System: ptr(system), Code: ptr(c)}}}
	if display != "" {
		cc.Coding[0].Display = ptr(display)
		cc.Text = ptr(display)
	}
	return cc
}

// Patient is a patient.
func (v View) Patient(p *model.Patient) r4.Patient {
	out := r4.Patient{Id: id(p.ID), Meta: meta(p.Meta), Active: ptr(true), ManagingOrganization: ref("Organization", p.InstitutionID)}
	mrn, name, birth := p.MRN, p.Name, p.BirthDate
	if v.Deidentified {
		mrn, name = model.MaskMRN(mrn), model.MaskName(name)
		if len(birth) >= 4 {
			birth = birth[:4]
		}
	} else {
		if p.IDNumber != "" {
			out.Identifier = append(out.Identifier, r4.Identifier{System: ptr(SystemNationalID), Value: ptr(p.IDNumber),
				Type: ptr(code("http://terminology.hl7.org/CodeSystem/v2-0203", "NI", "居民身份证号"))})
		}
		if p.Phone != "" {
			out.Telecom = []r4.ContactPoint{{System: ptr(r4.ContactPointSystemPhone), Value: ptr(p.Phone), Use: ptr(r4.ContactPointUseMobile)}}
		}
	}
	if mrn != "" {
		out.Identifier = append(out.Identifier, r4.Identifier{System: ptr(v.MRN()), Value: ptr(mrn),
			Type: ptr(code("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "病案号"))})
	}
	if name != "" {
		out.Name = []r4.HumanName{{Text: ptr(name)}}
	}
	g := r4.AdministrativeGenderUnknown
	switch p.Gender {
	case "M":
		g = r4.AdministrativeGenderMale
	case "F":
		g = r4.AdministrativeGenderFemale
	}
	out.Gender = &g
	if birth != "" {
		out.BirthDate = ptr(birth)
	}
	return out
}

// Practitioner is a member of staff.
func (v View) Practitioner(s *model.Staff) r4.Practitioner {
	return r4.Practitioner{Id: id(s.ID), Meta: meta(s.Meta), Active: ptr(s.Active),
		Identifier: []r4.Identifier{{System: ptr(SystemStaff), Value: ptr(s.Code)}},
		Name:       []r4.HumanName{{Text: ptr(s.Name)}}}
}

// Organization is the institution (id "i<id>" would not be an integer:
// institutions are ids 1…, departments are offered as their own ids
// through DepartmentOrg with the partOf link).
func (v View) Organization(i *model.Institution) r4.Organization {
	return r4.Organization{Id: id(i.ID), Meta: meta(i.Meta), Active: ptr(true), Name: ptr(i.Name),
		Identifier: []r4.Identifier{{System: ptr(SystemInstitution), Value: ptr(i.Code)}},
		Type:       []r4.CodeableConcept{code("http://terminology.hl7.org/CodeSystem/organization-type", "prov", "医疗机构")}}
}

var orderStatus = map[string]r4.RequestStatus{"new": r4.RequestStatusActive, "paid": r4.RequestStatusActive, "applied": r4.RequestStatusActive,
	"in_course": r4.RequestStatusActive, "completed": r4.RequestStatusCompleted, "cancelled": r4.RequestStatusRevoked, "refunded": r4.RequestStatusRevoked}

// ServiceRequest is a HIS order.
func (v View) ServiceRequest(o *model.Order) r4.ServiceRequest {
	st, ok := orderStatus[o.Status]
	if !ok {
		st = r4.RequestStatusUnknown
	}
	out := r4.ServiceRequest{Id: id(o.ID), Meta: meta(o.Meta), Status: st, Intent: r4.RequestIntentOrder,
		Identifier:       []r4.Identifier{{System: ptr(v.OrderNo()), Value: ptr(o.OrderNo)}},
		Code:             ptr(code(v.ChargeCode(), o.ProjectCode, o.ProjectName)),
		Subject:          *ref("Patient", o.PatientID),
		AuthoredOn:       instant(o.OrderedAt),
		QuantityQuantity: &r4.Quantity{Value: ptr(json.Number(strconv.FormatInt(o.Quantity, 10))), Unit: ptr("次")},
	}
	if o.DiagnosisCode != "" {
		out.ReasonCode = []r4.CodeableConcept{code(SystemICD10, o.DiagnosisCode, o.DiagnosisName)}
	}
	return out
}

var apptStatus = map[string]r4.AppointmentStatus{model.ApptBooked: r4.AppointmentStatusBooked, model.ApptCheckedIn: r4.AppointmentStatusCheckedIn,
	model.ApptCompleted: r4.AppointmentStatusFulfilled, model.ApptCancelled: r4.AppointmentStatusCancelled, model.ApptNoShow: r4.AppointmentStatusNoshow}

// Appointment is a booking in a slot.
func (v View) Appointment(a *model.Appointment, slot *model.Slot, project *model.Project) r4.Appointment {
	st, ok := apptStatus[a.Status]
	if !ok {
		st = r4.AppointmentStatusPending
	}
	out := r4.Appointment{Id: id(a.ID), Meta: meta(a.Meta), Status: st,
		Participant: []r4.AppointmentParticipant{{Actor: ref("Patient", a.PatientID), Status: r4.ParticipationStatusAccepted}}}
	if slot != nil {
		out.Start, out.End = instant(slot.StartAt), instant(slot.EndAt)
		out.MinutesDuration = ptr(int(slot.EndAt.Sub(slot.StartAt).Minutes()))
		out.Slot = []r4.Reference{*ref("Slot", slot.ID)}
		if slot.StaffID != 0 {
			out.Participant = append(out.Participant, r4.AppointmentParticipant{Actor: ref("Practitioner", slot.StaffID), Status: r4.ParticipationStatusAccepted})
		}
	}
	if project != nil {
		out.ServiceType = []r4.CodeableConcept{code(v.ChargeCode(), project.Code, project.Name)}
	}
	if a.Status == model.ApptCancelled && a.CancelReason != "" && !v.Deidentified {
		out.CancelationReason = &r4.CodeableConcept{Text: ptr(a.CancelReason)}
	}
	out.Created = instant(a.BookedAt)
	return out
}

var sessionStatus = map[string]r4.EventStatus{model.SessionInProgress: r4.EventStatusInProgress, model.SessionCompleted: r4.EventStatusCompleted,
	model.SessionAborted: r4.EventStatusStopped}

// Procedure is a treatment session.
func (v View) Procedure(s *model.Session, project *model.Project) r4.Procedure {
	st, ok := sessionStatus[s.Status]
	if !ok {
		st = r4.EventStatusUnknown
	}
	out := r4.Procedure{Id: id(s.ID), Meta: meta(s.Meta), Status: st, Subject: *ref("Patient", s.PatientID),
		PerformedPeriod: &r4.Period{Start: instant(s.StartedAt)},
		BasedOn:         []r4.Reference{},
	}
	if s.EndedAt != nil {
		out.PerformedPeriod.End = instant(*s.EndedAt)
	}
	if r := ref("ServiceRequest", s.OrderID); r != nil {
		out.BasedOn = append(out.BasedOn, *r)
	}
	if len(out.BasedOn) == 0 {
		out.BasedOn = nil
	}
	if project != nil {
		out.Code = ptr(code(v.ChargeCode(), project.Code, project.Name))
	}
	if s.PerformerID != 0 {
		out.Performer = []r4.ProcedurePerformer{{Actor: *ref("Practitioner", s.PerformerID)}}
	}
	if s.Status == model.SessionAborted && s.AbortReason != "" && !v.Deidentified {
		out.StatusReason = &r4.CodeableConcept{Text: ptr(s.AbortReason)}
	}
	return out
}

// Consent is a signed (or pending, or revoked) consent to a treatment.
func (v View) Consent(c *model.Consent) r4.Consent {
	st := r4.ConsentStateProposed
	switch {
	case c.RevokedAt != nil:
		st = r4.ConsentStateInactive
	case c.SignedAt != nil:
		st = r4.ConsentStateActive
	}
	out := r4.Consent{Id: id(c.ID), Meta: meta(c.Meta), Status: st,
		Scope:    code("http://terminology.hl7.org/CodeSystem/consentscope", "treatment", "治疗知情同意"),
		Category: []r4.CodeableConcept{code(SystemLOINC, "59284-0", "Patient Consent")},
		Patient:  ref("Patient", c.PatientID),
		Policy:   []r4.ConsentPolicy{{Uri: ptr(fmt.Sprintf("urn:zhiliao:consent-text:%d", c.TemplateID))}},
	}
	if c.SignedAt != nil {
		out.DateTime = instant(*c.SignedAt)
	}
	return out
}

var docTypes = map[string][2]string{model.DocTreatmentRecord: {"C0008", "治疗记录"}, model.DocConsent: {"C0029", "特殊检查及特殊治疗同意书"}}

// DocumentReference is a registered CDA document; its content is the XML
// at the registry's address.
func (v View) DocumentReference(d *model.Document) r4.DocumentReference {
	st := r4.DocumentReferenceStatusCurrent
	if d.ReplacedByID != nil {
		st = r4.DocumentReferenceStatusSuperseded
	}
	t := docTypes[d.Kind]
	out := r4.DocumentReference{Id: id(d.ID), Status: st,
		MasterIdentifier: &r4.Identifier{System: ptr("urn:oid:2.16.156.10011.1.1"), Value: ptr(d.DocUID)},
		Type:             ptr(code(SystemDocType, t[0], t[1])),
		Subject:          ref("Patient", d.PatientID),
		Date:             instant(d.EffectiveAt),
		Custodian:        ref("Organization", d.InstitutionID),
		Content: []r4.DocumentReferenceContent{{Attachment: r4.Attachment{ContentType: ptr("application/hl7-cda+xml"),
			Url: ptr(fmt.Sprintf("/api/v1/documents/%d/xml", d.ID)), Size: ptr(int(d.Size)), Title: ptr(t[1]), Creation: instant(d.CreatedAt)}}},
	}
	if d.ReplacesID != nil {
		out.RelatesTo = []r4.DocumentReferenceRelatesTo{{Code: r4.DocumentRelationshipTypeReplaces, Target: *ref("DocumentReference", *d.ReplacesID)}}
	}
	return out
}

// Kinds are the resource types served, with their search parameters: the
// CapabilityStatement and the parser both read this table.
var Kinds = []Kind{
	{Type: "Patient", Params: []Param{{"identifier", "token", "病案号（系统为本院 MRN）或身份证号（" + SystemNationalID + "）"}}},
	{Type: "Practitioner", Params: []Param{{"identifier", "token", "医务人员编号"}}},
	{Type: "Organization"},
	{Type: "ServiceRequest", Params: []Param{{"patient", "reference", ""}, {"status", "token", ""}, {"authored", "date", "开单时间"}},
		Sorts: []string{"authored", "-authored"}},
	{Type: "Appointment", Params: []Param{{"patient", "reference", ""}, {"status", "token", ""}, {"date", "date", "预约时间"}},
		Includes: []string{"Appointment:patient"}, Sorts: []string{"date", "-date"}},
	{Type: "Procedure", Params: []Param{{"patient", "reference", ""}, {"status", "token", ""}, {"date", "date", "治疗开始时间"}},
		Includes: []string{"Procedure:patient"}, Sorts: []string{"date", "-date"}},
	{Type: "Consent", Params: []Param{{"patient", "reference", ""}, {"status", "token", ""}, {"date", "date", "签署时间"}},
		Sorts: []string{"date", "-date"}},
	{Type: "Encounter", Params: []Param{{"patient", "reference", ""}, {"status", "token", ""}, {"date", "date", "疗程开始时间"}},
		Includes: []string{"Encounter:patient"}, Sorts: []string{"date", "-date"}},
	{Type: "Slot", Params: []Param{{"start", "date", "号源开始时间"}}, Sorts: []string{"start", "-start"}},
	{Type: "Schedule", Params: []Param{{"date", "date", "排班日期"}}, Sorts: []string{"date", "-date"}},
	{Type: "QuestionnaireResponse", Params: []Param{{"patient", "reference", ""}, {"status", "token", ""}, {"authored", "date", "作答时间"}},
		Sorts: []string{"authored", "-authored"}},
	{Type: "DocumentReference", Params: []Param{{"patient", "reference", ""}, {"type", "token", "C0008 治疗记录 或 C0029 知情同意书"}, {"date", "date", "签署时间"}},
		Sorts: []string{"date", "-date"}},
}

// KindOf is the served kind named type, or nil.
func KindOf(typ string) *Kind {
	for i := range Kinds {
		if Kinds[i].Type == typ {
			return &Kinds[i]
		}
	}
	return nil
}

// DocKind is the registry kind of a DocumentReference type code.
func DocKind(typeCode string) (string, bool) {
	c := typeCode
	if i := strings.LastIndex(c, "|"); i >= 0 {
		c = c[i+1:]
	}
	for k, t := range docTypes {
		if t[0] == c {
			return k, true
		}
	}
	return "", false
}

var courseStatus = map[string]r4.EncounterStatus{model.CourseActive: r4.EncounterStatusInProgress, model.CourseCompleted: r4.EncounterStatusFinished,
	model.CourseCancelled: r4.EncounterStatusCancelled, model.CourseArchived: r4.EncounterStatusFinished}

// Encounter is a course of treatment: the visits of one plan, ambulatory.
func (v View) Encounter(c *model.Course, project *model.Project) r4.Encounter {
	st, ok := courseStatus[c.Status]
	if !ok {
		st = r4.EncounterStatusUnknown
	}
	out := r4.Encounter{Id: id(c.ID), Meta: meta(c.Meta), Status: st,
		Class:   r4.Coding{System: ptr("http://terminology.hl7.org/CodeSystem/v3-ActCode"), Code: ptr("AMB"), Display: ptr("门诊治疗")},
		Subject: ref("Patient", c.PatientID), Period: &r4.Period{Start: instant(c.StartedAt)}}
	if c.EndedAt != nil {
		out.Period.End = instant(*c.EndedAt)
	}
	if project != nil {
		out.ServiceType = ptr(code(v.ChargeCode(), project.Code, project.Name))
	}
	return out
}

// Slot is a bookable place in a roster.
func (v View) Slot(s *model.Slot) r4.Slot {
	st := r4.SlotStatusFree
	if s.Booked >= s.Capacity {
		st = r4.SlotStatusBusy
	}
	return r4.Slot{Id: id(s.ID), Meta: meta(s.Meta), Schedule: *ref("Schedule", s.RosterID), Status: st,
		Start: s.StartAt.UTC().Format(time.RFC3339), End: s.EndAt.UTC().Format(time.RFC3339),
		Comment: ptr(fmt.Sprintf("已约 %d / %d", s.Booked, s.Capacity))}
}

// Schedule is a roster: a therapist's half-day in a room.
func (v View) Schedule(r *model.Roster) r4.Schedule {
	out := r4.Schedule{Id: id(r.ID), Meta: meta(r.Meta), Active: ptr(r.Status != "stopped"),
		Actor: []r4.Reference{*ref("Practitioner", r.StaffID)}}
	if day, err := time.ParseInLocation("2006-01-02", r.Day, time.FixedZone("CST", 8*3600)); err == nil {
		lo, hi := day, day.Add(12*time.Hour)
		if r.Shift == "pm" {
			lo, hi = day.Add(12*time.Hour), day.AddDate(0, 0, 1)
		}
		out.PlanningHorizon = &r4.Period{Start: instant(lo), End: instant(hi)}
	}
	return out
}

// SurveyQuestionnaire is the canonical URL of the satisfaction survey.
const SurveyQuestionnaire = "urn:zhiliao:questionnaire:satisfaction"

var surveyTitles = map[string]string{"environment": "治疗环境", "attitude": "服务态度", "skill": "治疗技术", "waiting": "等候时间",
	"explanation": "告知解释", "overall": "总体满意度"}

// QuestionnaireResponse is a satisfaction survey, sent or answered.
func (v View) QuestionnaireResponse(s *model.Survey) r4.QuestionnaireResponse {
	st := r4.QuestionnaireResponseStatusInProgress
	if s.AnsweredAt != nil {
		st = r4.QuestionnaireResponseStatusCompleted
	}
	out := r4.QuestionnaireResponse{Id: id(s.ID), Meta: meta(s.Meta), Status: st, Questionnaire: ptr(SurveyQuestionnaire),
		Subject: ref("Patient", s.PatientID)}
	if s.AnsweredAt != nil {
		out.Authored = instant(*s.AnsweredAt)
	}
	var scores map[string]int
	if s.Scores != "" && json.Unmarshal([]byte(s.Scores), &scores) == nil {
		for _, d := range model.SurveyDimensions {
			if n, ok := scores[d]; ok {
				out.Item = append(out.Item, r4.QuestionnaireResponseItem{LinkId: d, Text: ptr(surveyTitles[d]),
					Answer: []r4.QuestionnaireResponseItemAnswer{{ValueInteger: ptr(n)}}})
			}
		}
	}
	if s.Comment != "" && !v.Deidentified {
		out.Item = append(out.Item, r4.QuestionnaireResponseItem{LinkId: "comment", Text: ptr("意见与建议"),
			Answer: []r4.QuestionnaireResponseItemAnswer{{ValueString: ptr(s.Comment)}}})
	}
	return out
}
