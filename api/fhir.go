package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zhiliao/zhiliao/interop/cda"
	"github.com/zhiliao/zhiliao/interop/fhir"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// The FHIR R4 facade (DESIGN.md §11): read and search of the lifecycle's
// resources under /fhir/r4, on the same sessions, roles, scope, masking and
// audit as the API. The mapping is interop/fhir's; the rows come from the
// store's clinical searches. Errors are OperationOutcomes (writeError
// answers one on every /fhir/ path).

// FHIRBase is where the FHIR routes are mounted.
const FHIRBase = "/fhir/r4"

// Clinical is what the FHIR routes read of the core.
type Clinical interface {
	Patient(ctx context.Context, id int64) (*model.Patient, error)
	PatientsByIdentifier(ctx context.Context, mrn, nationalID string) ([]*model.Patient, error)
	PatientsByID(ctx context.Context, ids []int64) (map[int64]*model.Patient, error)
	PatientsPage(ctx context.Context, q model.ClinicalQuery) ([]*model.Patient, error)
	Departments(ctx context.Context, institutionID int64) ([]*model.Department, error)
	Staff(ctx context.Context, id int64) (*model.Staff, error)
	StaffByCode(ctx context.Context, institutionID int64, code string) (*model.Staff, error)
	Institution(ctx context.Context, id int64) (*model.Institution, error)
	SearchSessions(ctx context.Context, q model.ClinicalQuery) ([]*model.Session, int, error)
	SearchAppointments(ctx context.Context, q model.ClinicalQuery) ([]*model.Appointment, int, error)
	SearchOrders(ctx context.Context, q model.ClinicalQuery) ([]*model.Order, int, error)
	SearchConsents(ctx context.Context, q model.ClinicalQuery) ([]*model.Consent, int, error)
	SearchCourses(ctx context.Context, q model.ClinicalQuery) ([]*model.Course, int, error)
	SearchSlots(ctx context.Context, q model.ClinicalQuery) ([]*model.Slot, int, error)
	SearchRosters(ctx context.Context, q model.ClinicalQuery) ([]*model.Roster, int, error)
	SearchSurveys(ctx context.Context, q model.ClinicalQuery) ([]*model.Survey, int, error)
	SlotsByID(ctx context.Context, ids []int64) (map[int64]*model.Slot, error)
	ProjectsByID(ctx context.Context, ids []int64) (map[int64]*model.Project, error)
}

// fhirStatus are the FHIR status codes a search takes, per kind, as the
// core's statuses they mean.
var fhirStatus = map[string]map[string][]string{
	"Procedure":             {"in-progress": {model.SessionInProgress}, "completed": {model.SessionCompleted}, "stopped": {model.SessionAborted}},
	"Appointment":           {"booked": {model.ApptBooked}, "checked-in": {model.ApptCheckedIn}, "fulfilled": {model.ApptCompleted}, "cancelled": {model.ApptCancelled}, "noshow": {model.ApptNoShow}},
	"ServiceRequest":        {"active": {"new", "paid", "applied", "in_course"}, "completed": {"completed"}, "revoked": {"cancelled", "refunded"}},
	"Consent":               {"proposed": {"pending"}, "active": {"signed"}, "inactive": {"revoked"}},
	"Encounter":             {"in-progress": {model.CourseActive}, "finished": {model.CourseCompleted, model.CourseArchived}, "cancelled": {model.CourseCancelled}},
	"QuestionnaireResponse": {"in-progress": {model.SurveySent}, "completed": {model.SurveyAnswered}},
}

func (s *Server) fhirRoutes() []route {
	out := []route{{Method: "GET", Pattern: FHIRBase + "/metadata", Summary: "FHIR R4 CapabilityStatement（所提供的资源与检索参数）", Tag: "fhir",
		handler: func(w http.ResponseWriter, r *http.Request) {
			writeFHIR(w, http.StatusOK, fhir.Capability(time.Now(), s.Version))
		}}}
	for _, k := range fhir.Kinds {
		k := k
		out = append(out,
			route{Method: "GET", Pattern: FHIRBase + "/" + k.Type, Summary: "FHIR 检索 " + k.Type, Tag: "fhir", Action: policy.ReadFHIR,
				Audit: policy.AuditRead, Entity: "fhir:" + k.Type, Params: searchParams(k),
				handler: func(w http.ResponseWriter, r *http.Request) { s.fhirSearch(w, r, k) }},
			route{Method: "GET", Pattern: FHIRBase + "/" + k.Type + "/{id}", Summary: "FHIR 读取 " + k.Type, Tag: "fhir", Action: policy.ReadFHIR,
				Audit: policy.AuditRead, Entity: "fhir:" + k.Type, handler: func(w http.ResponseWriter, r *http.Request) { s.fhirRead(w, r, k) }})
	}
	out = append(out, route{Method: "GET", Pattern: FHIRBase + "/{type}", Summary: "FHIR：不提供的资源类型", Tag: "fhir", Action: policy.ReadFHIR,
		handler: func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, model.Errorf(model.ENOTFOUND, "不提供资源类型 %s (resource type not supported: see %s/metadata)", chi.URLParam(r, "type"), FHIRBase))
		}})
	return out
}

// searchParams are the query parameters a search of k takes.
func searchParams(k fhir.Kind) []string {
	out := slices.Clone(fhir.Common)
	for _, p := range k.Params {
		out = append(out, p.Name)
	}
	return out
}

// writeFHIR answers a resource.
func writeFHIR(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", fhir.ContentType)
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeOutcome answers an error as an OperationOutcome.
func writeOutcome(w http.ResponseWriter, status int, code string, err error) {
	var expr []string
	var se *fhir.Error
	if errors.As(err, &se) {
		expr = []string{se.Param}
	} else if f := model.ErrorField(err); f != "" {
		expr = []string{f}
	}
	issue := map[string]string{model.EINVALID: "invalid", model.ENOTFOUND: "not-found", model.EFORBIDDEN: "forbidden", model.EUNAUTHORIZED: "login",
		model.ECONFLICT: "conflict", model.ERATELIMIT: "throttled", model.EUNAVAILABLE: "transient", model.EPWCHANGE: "security", model.ECSRF: "security"}[code]
	if issue == "" {
		issue = "exception"
	}
	msg := model.ErrorMessage(err)
	if se != nil {
		msg = se.Message
		if se.NotSupported {
			issue = "not-supported"
		}
	}
	writeFHIR(w, status, fhir.Outcome("error", issue, msg, expr...))
}

func (s *Server) fhirView(ctx context.Context) fhir.View {
	root := s.OIDRoot
	if root == "" {
		root = cda.ExampleOIDRoot
	}
	return fhir.View{Systems: fhir.Systems{Root: root}, Deidentified: policy.Deidentified(model.ActorFrom(ctx))}
}

// fhirRead reads one resource by id.
func (s *Server) fhirRead(w http.ResponseWriter, r *http.Request, k fhir.Kind) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, model.NotFound(k.Type, 0))
		return
	}
	q := url.Values{"_id": {strconv.FormatInt(id, 10)}}
	res, _, _, err := s.fhirFind(r.Context(), k, &fhir.Search{Type: k.Type, ID: q.Get("_id"), Count: 1})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(res) == 0 {
		writeError(w, r, model.NotFound(k.Type, id))
		return
	}
	writeFHIR(w, http.StatusOK, res[0].Resource)
}

// fhirSearch answers a search as a searchset Bundle with paging links.
func (s *Server) fhirSearch(w http.ResponseWriter, r *http.Request, k fhir.Kind) {
	lenient := strings.Contains(strings.ToLower(r.Header.Get("Prefer")), "handling=lenient")
	sr, err := fhir.ParseSearch(k, r.URL.Query(), lenient)
	if err != nil {
		writeError(w, r, err)
		return
	}
	entries, total, includes, err := s.fhirFind(r.Context(), k, sr)
	if err != nil {
		writeError(w, r, err)
		return
	}
	base := s.externalBase(r)
	links := map[string]string{"self": base + r.URL.RequestURI()}
	page := func(offset int) string {
		q := r.URL.Query()
		q.Set("_offset", strconv.Itoa(offset))
		q.Set("_count", strconv.Itoa(sr.Count))
		return base + r.URL.Path + "?" + q.Encode()
	}
	if sr.Offset+sr.Count < total && sr.Count > 0 {
		links["next"] = page(sr.Offset + sr.Count)
	}
	if sr.Offset > 0 {
		links["previous"] = page(max(0, sr.Offset-sr.Count))
	}
	for i := range entries {
		entries[i].FullURL = base + entries[i].FullURL
	}
	for i := range includes {
		includes[i].FullURL = base + includes[i].FullURL
	}
	b, err := fhir.Searchset(total, append(entries, includes...), links)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeFHIR(w, http.StatusOK, b)
}

// externalBase is the scheme and host clients reach the service at.
func (s *Server) externalBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// fhirFind runs a search: the matches of the page, the total, and the
// included patients.
func (s *Server) fhirFind(ctx context.Context, k fhir.Kind, sr *fhir.Search) ([]fhir.Entry, int, []fhir.Entry, error) {
	c, ok := s.Backend.(Clinical)
	if !ok {
		return nil, 0, nil, model.Errorf(model.EUNAVAILABLE, "FHIR is not available on this backend")
	}
	v := s.fhirView(ctx)
	q := model.ClinicalQuery{From: sr.From, To: sr.To, Desc: sr.Desc, Limit: sr.Count, Offset: sr.Offset}
	if sr.ID != "" {
		q.ID, _ = strconv.ParseInt(sr.ID, 10, 64)
	}
	if sr.Patient != "" {
		q.PatientID, _ = strconv.ParseInt(sr.Patient, 10, 64)
	}
	if len(sr.Statuses) > 0 {
		m, ok := fhirStatus[k.Type]
		if !ok {
			return nil, 0, nil, &fhir.Error{Param: "status", Message: "该资源不支持按状态检索", NotSupported: true}
		}
		for _, st := range sr.Statuses {
			core, ok := m[st]
			if !ok {
				return nil, 0, nil, &fhir.Error{Param: "status", Message: fmt.Sprintf("未知状态 %q", st)}
			}
			q.Statuses = append(q.Statuses, core...)
		}
	}
	entry := func(typ string, id int64, res any) fhir.Entry {
		return fhir.Entry{FullURL: fmt.Sprintf("%s/%s/%d", FHIRBase, typ, id), Resource: res}
	}
	var out []fhir.Entry
	var total int
	var patientIDs []int64
	switch k.Type {
	case "Patient":
		var ps []*model.Patient
		switch {
		case q.ID != 0:
			p, err := c.Patient(ctx, q.ID)
			if model.ErrorCode(err) == model.ENOTFOUND {
				break
			} else if err != nil {
				return nil, 0, nil, err
			}
			ps = []*model.Patient{p}
		case sr.Identifier != nil:
			mrn, nid := sr.Identifier.Value, ""
			switch sr.Identifier.System {
			case fhir.SystemNationalID:
				mrn, nid = "", sr.Identifier.Value
			case "", v.MRN():
			default:
				return nil, 0, nil, &fhir.Error{Param: "identifier", Message: "不支持的标识系统（支持本院病案号 " + v.MRN() + " 与身份证号 " + fhir.SystemNationalID + "）", NotSupported: true}
			}
			var err error
			if ps, err = c.PatientsByIdentifier(ctx, mrn, nid); err != nil {
				return nil, 0, nil, err
			}
		default:
			return nil, 0, nil, &fhir.Error{Param: "identifier", Message: "检索患者需给出 identifier 或 _id（不提供全院患者列表）"}
		}
		for _, p := range ps {
			out = append(out, entry("Patient", p.ID, v.Patient(p)))
		}
		total = len(out)
		out = pageOf(out, sr)
	case "Practitioner":
		var st []*model.Staff
		switch {
		case q.ID != 0:
			if x, err := c.Staff(ctx, q.ID); err == nil {
				st = append(st, x)
			}
		case sr.Identifier != nil:
			if sr.Identifier.System != "" && sr.Identifier.System != fhir.SystemStaff {
				return nil, 0, nil, &fhir.Error{Param: "identifier", Message: "医务人员标识系统应为 " + fhir.SystemStaff, NotSupported: true}
			}
			if x, err := c.StaffByCode(ctx, model.ActorFrom(ctx).InstitutionID, sr.Identifier.Value); err == nil {
				st = append(st, x)
			}
		default:
			return nil, 0, nil, &fhir.Error{Param: "identifier", Message: "检索医务人员需给出 identifier 或 _id"}
		}
		for _, x := range st {
			out = append(out, entry("Practitioner", x.ID, v.Practitioner(x)))
		}
		total = len(out)
		out = pageOf(out, sr)
	case "Organization":
		id := q.ID
		if id == 0 {
			id = model.ActorFrom(ctx).InstitutionID
		}
		if i, err := c.Institution(ctx, id); err == nil {
			out = append(out, entry("Organization", i.ID, v.Organization(i)))
		}
		total = len(out)
		out = pageOf(out, sr)
	case "ServiceRequest":
		rows, n, err := c.SearchOrders(ctx, q)
		if err != nil {
			return nil, 0, nil, err
		}
		total = n
		for _, o := range rows {
			out = append(out, entry("ServiceRequest", o.ID, v.ServiceRequest(o)))
		}
	case "Appointment":
		rows, n, err := c.SearchAppointments(ctx, q)
		if err != nil {
			return nil, 0, nil, err
		}
		total = n
		slots, projects, err := appointmentFacts(ctx, c, rows)
		if err != nil {
			return nil, 0, nil, err
		}
		for _, a := range rows {
			patientIDs = append(patientIDs, a.PatientID)
			out = append(out, entry("Appointment", a.ID, v.Appointment(a, slots[a.SlotID], projects[a.ProjectID])))
		}
	case "Procedure":
		rows, n, err := c.SearchSessions(ctx, q)
		if err != nil {
			return nil, 0, nil, err
		}
		total = n
		projects, err := projectsOf(ctx, c, rows, func(x *model.Session) int64 { return x.ProjectID })
		if err != nil {
			return nil, 0, nil, err
		}
		for _, x := range rows {
			patientIDs = append(patientIDs, x.PatientID)
			out = append(out, entry("Procedure", x.ID, v.Procedure(x, projects[x.ProjectID])))
		}
	case "Consent":
		rows, n, err := c.SearchConsents(ctx, q)
		if err != nil {
			return nil, 0, nil, err
		}
		total = n
		for _, x := range rows {
			out = append(out, entry("Consent", x.ID, v.Consent(x)))
		}
	case "Encounter":
		rows, n, err := c.SearchCourses(ctx, q)
		if err != nil {
			return nil, 0, nil, err
		}
		total = n
		projects, err := projectsOf(ctx, c, rows, func(x *model.Course) int64 { return x.ProjectID })
		if err != nil {
			return nil, 0, nil, err
		}
		for _, x := range rows {
			patientIDs = append(patientIDs, x.PatientID)
			out = append(out, entry("Encounter", x.ID, v.Encounter(x, projects[x.ProjectID])))
		}
	case "Slot":
		rows, n, err := c.SearchSlots(ctx, q)
		if err != nil {
			return nil, 0, nil, err
		}
		total = n
		for _, x := range rows {
			out = append(out, entry("Slot", x.ID, v.Slot(x)))
		}
	case "Schedule":
		rows, n, err := c.SearchRosters(ctx, q)
		if err != nil {
			return nil, 0, nil, err
		}
		total = n
		for _, x := range rows {
			out = append(out, entry("Schedule", x.ID, v.Schedule(x)))
		}
	case "QuestionnaireResponse":
		rows, n, err := c.SearchSurveys(ctx, q)
		if err != nil {
			return nil, 0, nil, err
		}
		total = n
		for _, x := range rows {
			out = append(out, entry("QuestionnaireResponse", x.ID, v.QuestionnaireResponse(x)))
		}
	case "DocumentReference":
		dq := model.DocumentQuery{PatientID: q.PatientID, Limit: 500}
		if sr.Kind != "" {
			kind, ok := fhir.DocKind(sr.Kind)
			if !ok {
				return nil, 0, nil, &fhir.Error{Param: "type", Message: "文档类型应为 C0008（治疗记录）或 C0029（知情同意书）"}
			}
			dq.Kind = kind
		}
		docs, err := s.Backend.Documents(ctx, dq)
		if err != nil {
			return nil, 0, nil, err
		}
		for _, d := range docs {
			if (q.ID != 0 && d.ID != q.ID) || (sr.From != nil && d.EffectiveAt.Before(*sr.From)) || (sr.To != nil && !d.EffectiveAt.Before(*sr.To)) {
				continue
			}
			out = append(out, entry("DocumentReference", d.ID, v.DocumentReference(d)))
		}
		if !sr.Desc {
			slices.Reverse(out) // the registry lists newest first
		}
		total = len(out)
		out = pageOf(out, sr)
	}
	var includes []fhir.Entry
	if sr.Include && len(patientIDs) > 0 {
		ids := slices.Compact(slices.Sorted(slices.Values(patientIDs)))
		ps, err := c.PatientsByID(ctx, ids)
		if err != nil {
			return nil, 0, nil, err
		}
		for _, id := range ids {
			if p := ps[id]; p != nil {
				e := entry("Patient", p.ID, v.Patient(p))
				e.Include = true
				includes = append(includes, e)
			}
		}
	}
	return out, total, includes, nil
}

// projectsOf reads, in one query, the projects rows name.
func projectsOf[T any](ctx context.Context, c Clinical, rows []T, project func(T) int64) (map[int64]*model.Project, error) {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = project(r)
	}
	return c.ProjectsByID(ctx, slices.Compact(slices.Sorted(slices.Values(ids))))
}

// pageOf is the search's page of entries found whole.
func pageOf(all []fhir.Entry, sr *fhir.Search) []fhir.Entry {
	if sr.Offset >= len(all) {
		return nil
	}
	return all[sr.Offset:min(len(all), sr.Offset+sr.Count)]
}
