package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zhiliao/zhiliao/exports"
	"github.com/zhiliao/zhiliao/interop/fhir"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// The FHIR Bulk Data export (HL7 Bulk Data Access IG v2): a kick-off at the
// system level or for a Group (a department) answers 202 with the address
// of its status; the status answers 202 with X-Progress while the job runs
// and the manifest of NDJSON files when it is done; DELETE cancels it and
// removes its files. The files are written by the export job machinery
// (exports.StartFiles), one job per caller at a time (a second kick-off is
// 429 with Retry-After), from the same searches and the same masking as the
// FHIR reads. Every kick-off and every file read is audited.

// bulkKind is the export jobs' kind.
const bulkKind = "fhir-bulk"

// bulkTypes are the resource types an export holds, in the order written.
var bulkTypes = []string{"Patient", "ServiceRequest", "Appointment", "Procedure", "Consent", "DocumentReference"}

type bulkManifest struct {
	TransactionTime     string       `json:"transactionTime"`
	Request             string       `json:"request"`
	RequiresAccessToken bool         `json:"requiresAccessToken"`
	Output              []bulkOutput `json:"output"`
	Error               []bulkOutput `json:"error"`
}

type bulkOutput struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int64  `json:"count"`
}

func (s *Server) bulkRoutes() []route {
	kick := func(group bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { s.bulkKickOff(w, r, group) }
	}
	return []route{
		{Method: "GET", Pattern: FHIRBase + "/$export", Summary: "FHIR 批量导出（全院；Prefer: respond-async）", Tag: "fhir", Action: policy.BulkExport,
			Audit: policy.AuditRead, Entity: "fhir:$export", Params: []string{"_type", "_since", "_outputFormat"}, handler: kick(false)},
		{Method: "GET", Pattern: FHIRBase + "/Group/{id}/$export", Summary: "FHIR 批量导出（一个科室，Group 编号为科室编号）", Tag: "fhir", Action: policy.BulkExport,
			Audit: policy.AuditRead, Entity: "fhir:$export", Params: []string{"_type", "_since", "_outputFormat"}, handler: kick(true)},
		{Method: "GET", Pattern: FHIRBase + "/$export-status/{name}", Summary: "批量导出进度与文件清单", Tag: "fhir", Action: policy.BulkExport,
			handler: s.bulkStatus},
		{Method: "DELETE", Pattern: FHIRBase + "/$export-status/{name}", Summary: "取消批量导出并删除其文件", Tag: "fhir", Action: policy.BulkExport,
			handler: s.bulkDelete},
		{Method: "GET", Pattern: FHIRBase + "/$export-file/{name}/{file}", Summary: "批量导出的 NDJSON 文件", Tag: "fhir", Action: policy.BulkExport,
			Audit: policy.AuditRead, Entity: "fhir:$export-file", handler: s.bulkFile},
	}
}

// bulkJob is the caller's own export job named in the path.
func (s *Server) bulkJob(r *http.Request) (exports.Job, error) {
	if s.Exports == nil {
		return exports.Job{}, model.NotFound("批量导出", 0)
	}
	j, err := s.ownJob(r.Context(), s.Exports, chi.URLParam(r, "name"))
	if err == nil && j.Kind != bulkKind {
		err = exports.ErrNotFound
	}
	return j, err
}

func (s *Server) bulkKickOff(w http.ResponseWriter, r *http.Request, group bool) {
	ctx := r.Context()
	actor := model.ActorFrom(ctx)
	if !strings.Contains(r.Header.Get("Prefer"), "respond-async") {
		writeError(w, r, &fhir.Error{Param: "Prefer", Message: "批量导出须带 Prefer: respond-async (the Bulk Data kick-off is asynchronous)"})
		return
	}
	if err := knownParams(r, "_type", "_since", "_outputFormat"); err != nil {
		writeError(w, r, &fhir.Error{Param: model.ErrorField(err), Message: "不支持的参数 (unknown parameter)", NotSupported: true})
		return
	}
	q := r.URL.Query()
	if f := q.Get("_outputFormat"); f != "" && f != "application/fhir+ndjson" && f != "application/ndjson" && f != "ndjson" {
		writeError(w, r, &fhir.Error{Param: "_outputFormat", Message: "只提供 application/fhir+ndjson", NotSupported: true})
		return
	}
	types := bulkTypes
	if v := q.Get("_type"); v != "" {
		types = nil
		for _, t := range strings.Split(v, ",") {
			if !slices.Contains(bulkTypes, t) {
				writeError(w, r, &fhir.Error{Param: "_type", Message: fmt.Sprintf("不导出资源类型 %q（可导出：%s）", t, strings.Join(bulkTypes, ", ")), NotSupported: true})
				return
			}
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	var since *time.Time
	if v := q.Get("_since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, r, &fhir.Error{Param: "_since", Message: "_since 应为带时区的时间，例如 2026-09-01T00:00:00+08:00"})
			return
		}
		since = &t
	}
	var dept int64
	if group {
		id, err := pathID(r)
		if err == nil {
			err = s.groupInScope(ctx, id)
		}
		if err != nil {
			writeError(w, r, model.NotFound("Group", id))
			return
		}
		dept = id
	}
	if s.Exports == nil {
		writeError(w, r, model.Errorf(model.EUNAVAILABLE, "导出服务未启用"))
		return
	}
	c, ok := s.Backend.(Clinical)
	if !ok {
		writeError(w, r, model.Errorf(model.EUNAVAILABLE, "FHIR is not available on this backend"))
		return
	}
	view := s.fhirView(ctx)
	base := s.externalBase(r)
	request := base + r.URL.RequestURI()
	job, err := s.Exports.StartFiles(model.WithActor(context.WithoutCancel(ctx), actor), bulkKind, "FHIR 批量导出", actor.UserID,
		func(jctx context.Context, dir string, progress func(int64, float64)) ([]exports.Output, error) {
			return writeBulk(model.WithActor(jctx, actor), c, s.Backend, view, types, dept, since, dir, progress)
		})
	if err != nil {
		if err == exports.ErrBusy {
			w.Header().Set("Retry-After", "10")
		}
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Location", base+FHIRBase+"/$export-status/"+job.ID)
	writeFHIR(w, http.StatusAccepted, fhir.Outcome("information", "informational", "已开始导出："+request))
}

// groupInScope refuses a department the caller may not see, or that is not
// of its institution.
func (s *Server) groupInScope(ctx context.Context, dept int64) error {
	a := model.ActorFrom(ctx)
	if _, err := policy.ListScope(a, dept); err != nil {
		return err
	}
	c, ok := s.Backend.(Clinical)
	if !ok {
		return model.Errorf(model.EUNAVAILABLE, "FHIR is not available on this backend")
	}
	depts, err := c.Departments(ctx, a.InstitutionID)
	if err != nil {
		return err
	}
	for _, d := range depts {
		if d.ID == dept {
			return nil
		}
	}
	return model.NotFound("Group", dept)
}

// writeBulk writes one NDJSON file per type, page by page.
func writeBulk(ctx context.Context, c Clinical, reg Registry, v fhir.View, types []string, dept int64, since *time.Time, dir string,
	progress func(int64, float64)) ([]exports.Output, error) {
	const page = 1000
	var out []exports.Output
	var total int64
	for i, typ := range types {
		f, err := os.Create(filepath.Join(dir, typ+".ndjson"))
		if err != nil {
			return nil, err
		}
		bw := bufio.NewWriterSize(f, 1<<16)
		enc := json.NewEncoder(bw)
		var n int64
		write := func(res any) error { n++; return enc.Encode(res) }
		q := model.ClinicalQuery{DeptID: dept, Since: since, Limit: page}
		err = func() error {
			switch typ {
			case "Patient":
				for {
					ps, err := c.PatientsPage(ctx, q)
					if err != nil {
						return err
					}
					for _, p := range ps {
						if err := write(v.Patient(p)); err != nil {
							return err
						}
						q.ID = p.ID
					}
					if len(ps) < page {
						return nil
					}
				}
			case "DocumentReference":
				for offset := 0; ; offset += 500 {
					docs, err := reg.Documents(ctx, model.DocumentQuery{Limit: 500, Offset: offset})
					if err != nil {
						return err
					}
					for _, d := range docs {
						if (dept == 0 || d.DeptID == dept) && (since == nil || !d.CreatedAt.Before(*since)) {
							if err := write(v.DocumentReference(d)); err != nil {
								return err
							}
						}
					}
					if len(docs) < 500 {
						return nil
					}
				}
			}
			for {
				var n int
				var err error
				switch typ {
				case "ServiceRequest":
					var rows []*model.Order
					if rows, _, err = c.SearchOrders(ctx, q); err == nil {
						for _, o := range rows {
							err = write(v.ServiceRequest(o))
						}
					}
					n = len(rows)
				case "Appointment":
					var rows []*model.Appointment
					if rows, _, err = c.SearchAppointments(ctx, q); err == nil {
						slots, projects, e := appointmentFacts(ctx, c, rows)
						err = e
						for _, a := range rows {
							if err == nil {
								err = write(v.Appointment(a, slots[a.SlotID], projects[a.ProjectID]))
							}
						}
					}
					n = len(rows)
				case "Procedure":
					var rows []*model.Session
					if rows, _, err = c.SearchSessions(ctx, q); err == nil {
						projects, e := projectsOf(ctx, c, rows, func(x *model.Session) int64 { return x.ProjectID })
						err = e
						for _, x := range rows {
							if err == nil {
								err = write(v.Procedure(x, projects[x.ProjectID]))
							}
						}
					}
					n = len(rows)
				case "Consent":
					var rows []*model.Consent
					if rows, _, err = c.SearchConsents(ctx, q); err == nil {
						for _, x := range rows {
							err = write(v.Consent(x))
						}
					}
					n = len(rows)
				}
				if err != nil {
					return err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				progress(total+int64(q.Offset+n), float64(i*100)/float64(len(types)))
				if n < page {
					return nil
				}
				q.Offset += page
			}
		}()
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		total += n
		progress(total, float64((i+1)*100)/float64(len(types)))
		out = append(out, exports.Output{Name: typ + ".ndjson", Type: typ, Count: n})
	}
	return out, nil
}

func appointmentFacts(ctx context.Context, c Clinical, rows []*model.Appointment) (map[int64]*model.Slot, map[int64]*model.Project, error) {
	slotIDs := make([]int64, len(rows))
	for i, a := range rows {
		slotIDs[i] = a.SlotID
	}
	slots, err := c.SlotsByID(ctx, slices.Compact(slices.Sorted(slices.Values(slotIDs))))
	if err != nil {
		return nil, nil, err
	}
	projects, err := projectsOf(ctx, c, rows, func(a *model.Appointment) int64 { return a.ProjectID })
	return slots, projects, err
}

func (s *Server) bulkStatus(w http.ResponseWriter, r *http.Request) {
	j, err := s.bulkJob(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	switch j.Status {
	case exports.Queued, exports.Running:
		w.Header().Set("X-Progress", fmt.Sprintf("%.0f%%，已写 %d 条", j.Percent, j.Rows))
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusAccepted)
	case exports.Done:
		base := s.externalBase(r)
		m := bulkManifest{TransactionTime: j.Created.UTC().Format(time.RFC3339), Request: base + FHIRBase + "/$export", RequiresAccessToken: true, Output: []bulkOutput{}, Error: []bulkOutput{}}
		for _, o := range j.Outputs {
			m.Output = append(m.Output, bulkOutput{Type: o.Type, URL: base + FHIRBase + "/$export-file/" + j.ID + "/" + o.Name, Count: o.Count})
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "private, no-store")
		json.NewEncoder(w).Encode(m)
	case exports.Cancelled:
		writeError(w, r, model.NotFound("批量导出", 0))
	default:
		writeError(w, r, model.Errorf(model.EINTERNAL, "导出失败：%s", j.Error))
	}
}

func (s *Server) bulkDelete(w http.ResponseWriter, r *http.Request) {
	j, err := s.bulkJob(r)
	if err == nil {
		err = s.Exports.Remove(j.ID)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) bulkFile(w http.ResponseWriter, r *http.Request) {
	j, err := s.bulkJob(r)
	var path string
	if err == nil {
		path, err = s.Exports.OutputFile(j.ID, chi.URLParam(r, "file"))
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+ndjson")
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeFile(w, r, path)
}
