// Package cda writes the WS/T 500 shared documents zhiliao produces as HL7
// CDA R2 XML (POCD_MT000040): 治疗记录 (WS/T 500 treatment record, template
// 2.16.156.10011.2.1.1.28, document code C0008) from a signed treatment
// record, and 特殊检查及特殊治疗同意书 (template 2.16.156.10011.2.1.1.49, code
// C0029) from a signed consent. It owns the header the national
// specification asks for (document id, template, patient identity with the
// national identifier OIDs, author, custodian, legalAuthenticator, version
// and RPLC), the mapping of the record's fields to WS 363 / WS 445 data
// elements where one exists, the evaluator's de-identified view (Mask) and
// the Chinese stylesheet a browser renders a document with. It knows no
// database: the documents package gathers a Doc from the core and registers
// what Build returns. The normative schema it is validated against in the
// tests is in schema/ (SOURCE.md names where it comes from).
package cda

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kinds of document.
const (
	TreatmentRecord = "treatment_record" // 治疗记录
	Consent         = "consent"          // 知情同意书（特殊检查及特殊治疗同意书）
)

// The national OIDs used (WS/T 500, WS 363 and the code tables of WS 364).
const (
	OIDDocumentID      = "2.16.156.10011.1.1"        // 文档流水号
	OIDNationalID      = "2.16.156.10011.1.3"        // 患者身份证件号码
	OIDStaff           = "2.16.156.10011.1.4"        // 医务人员编号
	OIDInstitution     = "2.16.156.10011.1.5"        // 医疗卫生机构编号
	OIDOutpatientNo    = "2.16.156.10011.1.11"       // 门（急）诊号 (the MRN here)
	OIDDepartment      = "2.16.156.10011.1.26"       // 科室
	OIDConsentNo       = "2.16.156.10011.1.34"       // 知情同意书编号
	OIDDocumentCodes   = "2.16.156.10011.2.4"        // 卫生信息共享文档规范编码体系
	OIDDataElements    = "2.16.156.10011.2.2.1"      // 卫生信息数据元目录
	OIDSex             = "2.16.156.10011.2.3.3.4"    // 生理性别代码表（GB/T 2261.1）
	OIDICD10           = "2.16.156.10011.2.3.3.11.3" // 诊断代码表（ICD-10）
	OIDLOINC           = "2.16.840.1.113883.6.1"
	OIDConfidentiality = "2.16.840.1.113883.5.25"

	templateTreatment = "2.16.156.10011.2.1.1.28"
	templateConsent   = "2.16.156.10011.2.1.1.49"
)

// Local code systems hang under the hospital's own OID (Doc.OIDRoot): the
// charge codes of its projects, the record fields that have no national
// data element, and the HIS order numbers.
const (
	localChargeCodes  = ".1" // 收费项目代码
	localRecordFields = ".2" // 治疗记录项目
	localOrderNo      = ".3" // HIS 医嘱号
)

// ExampleOIDRoot is the default root of the local code systems: 2.999 is
// the arc ISO/IEC 9834-8 keeps for examples. A hospital sets its own
// registered OID (the --oid-root flag).
const ExampleOIDRoot = "2.999.1"

// Patient is the patient as the header names them.
type Patient struct {
	NationalID string
	MRN        string
	Name       string
	Gender     string // M, F, U
	BirthDate  string // 2006-01-02, or empty
}

// Person is a member of staff or another signer.
type Person struct{ Code, Name string }

// Org is an institution or a department.
type Org struct{ Code, Name string }

// Field is one filled field of a treatment record's form.
type Field struct {
	Key, Label, Value, Unit string
	Number                  bool
	Free                    bool // free text (a note): withheld from the de-identified view
}

// Doc is what a document is built from.
type Doc struct {
	Kind     string
	ID       string // the document's id (extension under 文档流水号), unique per version
	SetID    string // the same for every version of one source
	Version  int
	Replaces string // the id of the version this one replaces (RPLC), or empty
	Created  time.Time
	OIDRoot  string // the hospital's OID for local code systems

	Patient   Patient
	Custodian Org // the institution
	Dept      Org
	Author    Person
	// LegalAuthenticator signed the source: the therapist who signed the
	// record, or the clinician who witnessed the consent.
	LegalAuthenticator Person
	SignedAt           time.Time

	// 治疗记录
	ProjectCode, ProjectName string
	DiagnosisCode            string // ICD-10
	DiagnosisName            string
	SessionSeq               int
	Start, End               time.Time
	OrderNo                  string
	ConsentNo                string // the consent the session ran under, if any
	Fields                   []Field
	Precautions              string

	// 知情同意书
	ConsentTitle, ConsentBody string
	Signer                    Person // the patient or their proxy who signed
	SignerRelation            string // 本人, 配偶…
	SignatureSHA256           string // hex, of the handwritten signature image
	TextSM3                   string // hex, of the exact text the signer was shown
}

// MissingError is a source that lacks what the document requires: the
// document is not made (never an invalid one), and the failure names the
// field.
type MissingError struct{ Field, Label string }

func (e *MissingError) Error() string {
	return fmt.Sprintf("缺少%s，无法生成共享文档 (document field %s is missing)", e.Label, e.Field)
}

// Stylesheet is the Chinese XSL stylesheet that renders a document in a
// browser; documents point at it by StylesheetPath.
//
//go:embed cda-zh.xsl
var Stylesheet []byte

// StylesheetPath is where the service serves Stylesheet.
const StylesheetPath = "/api/v1/documents/cda-zh.xsl"

// china is the time zone of the documents' times (TS with an offset).
var china = time.FixedZone("CST", 8*3600)

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(china).Format("20060102150405-0700")
}

func (d *Doc) check() error {
	need := func(v, field, label string) error {
		if strings.TrimSpace(v) == "" {
			return &MissingError{field, label}
		}
		return nil
	}
	checks := []error{
		need(d.ID, "id", "文档流水号"), need(d.SetID, "set_id", "文档集编号"),
		need(d.Patient.Name, "patient.name", "患者姓名"),
		need(d.Patient.MRN+d.Patient.NationalID, "patient.mrn", "患者标识（病案号或身份证件号码）"),
		need(d.Custodian.Code, "institution.code", "医疗机构编号"), need(d.Custodian.Name, "institution.name", "医疗机构名称"),
		need(d.Author.Name, "author", "文档创作者"),
		need(d.LegalAuthenticator.Name, "signer", "签名医务人员"),
	}
	if d.SignedAt.IsZero() {
		checks = append(checks, &MissingError{"signed_at", "签名时间"})
	}
	if d.Version < 1 {
		checks = append(checks, &MissingError{"version", "文档版本号"})
	}
	switch d.Kind {
	case TreatmentRecord:
		checks = append(checks, need(d.ProjectCode, "project.code", "治疗项目编码"), need(d.ProjectName, "project.name", "治疗项目名称"))
		if d.Start.IsZero() {
			checks = append(checks, &MissingError{"session.started_at", "治疗开始时间"})
		}
	case Consent:
		checks = append(checks, need(d.ConsentNo, "consent.id", "知情同意书编号"), need(d.ConsentBody, "consent.text", "知情同意书文本"),
			need(d.Signer.Name, "consent.signer_name", "患者或代理人签名"), need(d.SignatureSHA256, "consent.signature_sha256", "签名图像摘要"))
	default:
		return fmt.Errorf("cda: unknown document kind %q", d.Kind)
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// Build writes the document's XML, or says what its source lacks.
func Build(d *Doc) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	if d.OIDRoot == "" {
		d.OIDRoot = ExampleOIDRoot
	}
	doc := d.header()
	body := el("structuredBody")
	var sections []*node
	if d.Kind == TreatmentRecord {
		sections = []*node{d.diagnosisSection(), d.procedureSection(), d.planSection()}
	} else {
		sections = []*node{d.consentSection()}
	}
	for _, s := range sections {
		if s != nil {
			body.add(el("component").add(s))
		}
	}
	doc.add(el("component").add(body))
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<?xml-stylesheet type="text/xsl" href="` + StylesheetPath + `"?>` + "\n")
	doc.write(&b, 0)
	return b.Bytes(), nil
}

func (d *Doc) header() *node {
	template, code, title := templateTreatment, "C0008", "治疗记录"
	if d.Kind == Consent {
		template, code, title = templateConsent, "C0029", "特殊检查及特殊治疗同意书"
	}
	doc := el("ClinicalDocument", "xmlns", "urn:hl7-org:v3", "xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	doc.add(el("realmCode", "code", "CN"),
		el("typeId", "root", "2.16.840.1.113883.1.3", "extension", "POCD_MT000040"),
		el("templateId", "root", template),
		el("id", "root", OIDDocumentID, "extension", d.ID),
		el("code", "code", code, "codeSystem", OIDDocumentCodes, "codeSystemName", "卫生信息共享文档规范编码体系"),
		el("title").with(title),
		el("effectiveTime", "value", ts(d.Created)),
		el("confidentialityCode", "code", "N", "codeSystem", OIDConfidentiality, "codeSystemName", "Confidentiality", "displayName", "正常访问保密级别"),
		el("languageCode", "code", "zh-CN"),
		el("setId", "root", OIDDocumentID, "extension", d.SetID),
		el("versionNumber", "value", strconv.Itoa(d.Version)))

	p := el("patient", "classCode", "PSN", "determinerCode", "INSTANCE")
	if d.Patient.NationalID != "" {
		p.add(el("id", "root", OIDNationalID, "extension", d.Patient.NationalID))
	}
	p.add(el("name").with(d.Patient.Name), sex(d.Patient.Gender))
	if bt := birth(d.Patient.BirthDate); bt != "" {
		p.add(el("birthTime", "value", bt))
	}
	role := el("patientRole", "classCode", "PAT")
	if d.Patient.MRN != "" {
		role.add(el("id", "root", OIDOutpatientNo, "extension", d.Patient.MRN))
	} else {
		role.add(el("id", "nullFlavor", "UNK"))
	}
	if d.Kind == Consent {
		role.add(el("id", "root", OIDConsentNo, "extension", d.ConsentNo))
	}
	doc.add(el("recordTarget", "typeCode", "RCT", "contextControlCode", "OP").add(role.add(p)))

	doc.add(el("author", "typeCode", "AUT", "contextControlCode", "OP").add(
		el("time", "value", ts(d.SignedAt)),
		el("assignedAuthor", "classCode", "ASSIGNED").add(staffID(d.Author), el("assignedPerson").add(el("name").with(d.Author.Name)))))
	doc.add(el("custodian", "typeCode", "CST").add(el("assignedCustodian", "classCode", "ASSIGNED").add(
		el("representedCustodianOrganization", "classCode", "ORG", "determinerCode", "INSTANCE").add(
			el("id", "root", OIDInstitution, "extension", d.Custodian.Code), el("name").with(d.Custodian.Name)))))
	doc.add(el("legalAuthenticator").add(el("time", "value", ts(d.SignedAt)), el("signatureCode", "code", "S"),
		el("assignedEntity").add(staffID(d.LegalAuthenticator), el("code", "displayName", d.signerTitle()),
			el("assignedPerson").add(el("name").with(d.LegalAuthenticator.Name)))))
	if d.Kind == Consent {
		doc.add(el("authenticator").add(el("time", "value", ts(d.SignedAt)), el("signatureCode", "code", "S"),
			el("assignedEntity").add(el("id", "nullFlavor", "NA"), el("code", "displayName", "患者/法定代理人签名"),
				el("assignedPerson").add(el("name").with(d.Signer.Name)))))
	}
	if d.OrderNo != "" {
		doc.add(el("inFulfillmentOf").add(el("order").add(el("id", "root", d.OIDRoot+localOrderNo, "extension", d.OrderNo))))
	}
	if d.Replaces != "" {
		doc.add(el("relatedDocument", "typeCode", "RPLC").add(el("parentDocument").add(
			el("id", "root", OIDDocumentID, "extension", d.Replaces),
			el("setId", "root", OIDDocumentID, "extension", d.SetID),
			el("versionNumber", "value", strconv.Itoa(d.Version-1)))))
	}
	if d.Kind == TreatmentRecord && d.ConsentNo != "" {
		doc.add(el("authorization").add(el("consent").add(el("id", "root", OIDConsentNo, "extension", d.ConsentNo),
			el("statusCode", "code", "completed"))))
	}
	enc := el("encompassingEncounter").add(el("effectiveTime").add(el("low", "value", ts(d.Start))))
	if d.Dept.Name != "" {
		enc.add(el("location").add(el("healthCareFacility").add(el("serviceProviderOrganization").add(
			el("id", "root", OIDDepartment, "extension", d.Dept.Code), el("name").with(d.Dept.Name),
			el("asOrganizationPartOf").add(el("wholeOrganization").add(
				el("id", "root", OIDInstitution, "extension", d.Custodian.Code), el("name").with(d.Custodian.Name)))))))
	}
	if d.Kind == TreatmentRecord || !d.Start.IsZero() {
		doc.add(el("componentOf").add(enc))
	}
	return doc
}

func (d *Doc) signerTitle() string {
	if d.Kind == Consent {
		return "医师签名"
	}
	return "治疗执行者"
}

func staffID(p Person) *node {
	if p.Code == "" {
		return el("id", "nullFlavor", "UNK")
	}
	return el("id", "root", OIDStaff, "extension", p.Code)
}

func sex(g string) *node {
	code, name := "0", "未知的性别"
	switch g {
	case "M":
		code, name = "1", "男性"
	case "F":
		code, name = "2", "女性"
	}
	return el("administrativeGenderCode", "code", code, "codeSystem", OIDSex, "codeSystemName", "生理性别代码表（GB/T 2261.1）", "displayName", name)
}

func birth(day string) string {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return ""
	}
	return t.Format("20060102")
}

// section is a section with a LOINC code, a title and a narrative list.
func section(loinc, display, title string, lines ...*node) *node {
	list := el("list")
	for _, l := range lines {
		list.add(l)
	}
	text := el("text")
	if len(list.kids) > 0 {
		text.add(list)
	}
	return el("section").add(el("code", "code", loinc, "codeSystem", OIDLOINC, "codeSystemName", "LOINC", "displayName", display),
		el("title").with(title), text)
}

func item(label, value string) *node {
	if value == "" {
		return nil
	}
	return el("item").with(label + "：" + value)
}

// de is an observation of a national data element (or a local field).
func de(mood, code, system, systemName, display string, value *node) *node {
	return el("observation", "classCode", "OBS", "moodCode", mood).add(
		el("code", "code", code, "codeSystem", system, "codeSystemName", systemName, "displayName", display), value)
}

func st(s string) *node { return el("value", "xsi:type", "ST").with(s) }

func (d *Doc) diagnosisSection() *node {
	if d.DiagnosisCode == "" && d.DiagnosisName == "" {
		return nil
	}
	s := section("29548-5", "Diagnosis", "诊断", item("疾病诊断", strings.TrimSpace(d.DiagnosisName+" "+d.DiagnosisCode)))
	v := el("value", "xsi:type", "CD", "code", d.DiagnosisCode, "codeSystem", OIDICD10, "codeSystemName", "诊断代码表（ICD-10）", "displayName", d.DiagnosisName)
	if d.DiagnosisCode == "" {
		v = el("value", "xsi:type", "CD", "nullFlavor", "UNK", "displayName", d.DiagnosisName)
	}
	return s.add(el("entry").add(de("EVN", "DE05.01.024.00", OIDDataElements, "卫生信息数据元目录", "疾病诊断编码", v)))
}

// nationalElements are the record fields with a WS 363 / WS 445 data
// element of their own; the others are coded in the hospital's local
// system of record fields.
var nationalElements = map[string]struct{ code, name string }{
	"site":          {"DE06.00.187.00", "手术目标部位名称"},
	"method":        {"DE06.00.251.00", "操作方法描述"},
	"modality":      {"DE06.00.251.00", "操作方法描述"},
	"technique":     {"DE06.00.251.00", "操作方法描述"},
	"content":       {"DE06.00.251.00", "操作方法描述"},
	"weight_before": {"DE04.10.188.00", "体重（kg）"},
}

func (d *Doc) procedureSection() *node {
	var lines []*node
	lines = append(lines, item("治疗项目", d.ProjectName+"（"+d.ProjectCode+"）"), item("治疗时间", span(d.Start, d.End)))
	if d.SessionSeq > 0 {
		lines = append(lines, item("疗程第几次", strconv.Itoa(d.SessionSeq)))
	}
	for i, f := range d.Fields {
		if f.Value == "" {
			continue
		}
		it := item(f.Label, strings.TrimSpace(f.Value+" "+f.Unit))
		if f.Free {
			it.attrs = append(it.attrs, attr("ID", "free-"+strconv.Itoa(i+1)))
		}
		lines = append(lines, it)
	}
	lines = append(lines, item("医嘱号", d.OrderNo), item("知情同意书编号", d.ConsentNo))
	s := section("47519-4", "HISTORY OF PROCEDURES", "治疗操作", lines...)
	proc := el("procedure", "classCode", "PROC", "moodCode", "EVN").add(
		el("code", "code", d.ProjectCode, "codeSystem", d.OIDRoot+localChargeCodes, "codeSystemName", "收费项目代码", "displayName", d.ProjectName),
		el("statusCode", "code", "completed"),
		el("effectiveTime").add(el("low", "value", ts(d.Start)), el("high", "value", ts(d.End))))
	rel := func(obs *node) { proc.add(el("entryRelationship", "typeCode", "COMP").add(obs)) }
	rel(de("EVN", "DE06.00.094.00", OIDDataElements, "卫生信息数据元目录", "操作名称", st(d.ProjectName)))
	if d.SessionSeq > 0 {
		rel(de("EVN", "DE06.00.250.00", OIDDataElements, "卫生信息数据元目录", "操作次数", el("value", "xsi:type", "INT", "value", strconv.Itoa(d.SessionSeq))))
	}
	for _, f := range d.Fields {
		if f.Value == "" || f.Key == "note" {
			continue
		}
		if f.Key == "bp" {
			if sys, dia, ok := bloodPressure(f.Value); ok {
				rel(de("EVN", "DE04.10.174.00", OIDDataElements, "卫生信息数据元目录", "收缩压（mmHg）", pq(sys, "mm[Hg]")))
				rel(de("EVN", "DE04.10.176.00", OIDDataElements, "卫生信息数据元目录", "舒张压（mmHg）", pq(dia, "mm[Hg]")))
				continue
			}
		}
		var v *node
		if x, err := strconv.ParseFloat(f.Value, 64); f.Number && err == nil && !math.IsInf(x, 0) && !math.IsNaN(x) {
			v = pq(f.Value, unit(f.Unit))
		} else {
			v = st(f.Value)
		}
		if n, ok := nationalElements[f.Key]; ok {
			rel(de("EVN", n.code, OIDDataElements, "卫生信息数据元目录", n.name, v))
		} else {
			rel(de("EVN", f.Key, d.OIDRoot+localRecordFields, "治疗记录项目", f.Label, v))
		}
	}
	return s.add(el("entry").add(proc))
}

func (d *Doc) planSection() *node {
	var note string
	for _, f := range d.Fields {
		if f.Key == "note" {
			note = f.Value
		}
	}
	if d.Precautions == "" && note == "" {
		return nil
	}
	noteItem := item("备注", note)
	if noteItem != nil {
		noteItem.attrs = append(noteItem.attrs, attr("ID", "free-note"))
	}
	s := section("18776-5", "TREATMENT PLAN", "处理及指导意见", item("注意事项", d.Precautions), noteItem)
	if d.Precautions != "" {
		s.add(el("entry").add(de("INT", "DE06.00.018.00", OIDDataElements, "卫生信息数据元目录", "处理及指导意见", st(d.Precautions))))
	}
	if note != "" {
		s.add(el("entry").add(de("INT", "DE06.00.179.00", OIDDataElements, "卫生信息数据元目录", "医嘱使用备注", st(note))))
	}
	return s
}

func (d *Doc) consentSection() *node {
	var lines []*node
	lines = append(lines, item("知情同意书", d.ConsentTitle))
	for _, para := range strings.Split(d.ConsentBody, "\n") {
		if para = strings.TrimSpace(para); para != "" {
			lines = append(lines, el("item").with(para))
		}
	}
	lines = append(lines, item("签署人与患者关系", d.SignerRelation), item("签署时间", d.SignedAt.In(china).Format("2006-01-02 15:04")),
		item("文本 SM3 摘要", d.TextSM3), item("签名图像 SHA-256", d.SignatureSHA256))
	s := section("59284-0", "Patient Consent", "知情同意", lines...)
	img := el("value", "xsi:type", "ED", "mediaType", "image/png", "integrityCheck", hexToBase64(d.SignatureSHA256), "integrityCheckAlgorithm", "SHA-256")
	s.add(el("entry").add(de("EVN", "signature_image", d.OIDRoot+localRecordFields, "治疗记录项目", "患者/法定代理人签名图像", img)))
	if d.TextSM3 != "" {
		s.add(el("entry").add(de("EVN", "text_sm3", d.OIDRoot+localRecordFields, "治疗记录项目", "知情同意书文本 SM3 摘要", st(d.TextSM3))))
	}
	return s
}

func attr(name, value string) xml.Attr { return xml.Attr{Name: xml.Name{Local: name}, Value: value} }

// hexToBase64 is a hex digest as the base64 an ED's integrityCheck holds.
func hexToBase64(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

func pq(value, unit string) *node { return el("value", "xsi:type", "PQ", "value", value, "unit", unit) }

// unit is a unit as PQ takes it (no spaces; "1" when there is none).
func unit(u string) string {
	u = strings.Join(strings.Fields(u), "")
	if u == "" {
		return "1"
	}
	return u
}

func span(a, b time.Time) string {
	if a.IsZero() {
		return ""
	}
	s := a.In(china).Format("2006-01-02 15:04")
	if !b.IsZero() {
		s += "–" + b.In(china).Format("15:04")
	}
	return s
}

// bloodPressure reads "120/80" as its two numbers.
func bloodPressure(v string) (string, string, bool) {
	sys, dia, ok := strings.Cut(strings.TrimSpace(v), "/")
	if !ok {
		return "", "", false
	}
	sys, dia = strings.TrimSpace(sys), strings.TrimSpace(dia)
	if _, err := strconv.ParseUint(sys, 10, 16); err != nil {
		return "", "", false
	}
	if _, err := strconv.ParseUint(dia, 10, 16); err != nil {
		return "", "", false
	}
	return sys, dia, true
}
