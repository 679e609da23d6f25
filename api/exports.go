package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/exports"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/pdfprint"
	"github.com/zhiliao/zhiliao/policy"
	"github.com/zhiliao/zhiliao/reports"
)

type exportRequest struct {
	Report string  `json:"report"`
	From   string  `json:"from"`
	To     string  `json:"to"`
	Dept   []int64 `json:"dept,omitempty"`
	// Institution narrows a regional warehouse's report to these
	// institutions' departments.
	Institution []int64 `json:"institution,omitempty"`
	// SampleSeed and SampleRows draw the 抽查记录 sample again (see
	// reports.Params); zero: the period's own seed, 20 rows per stratum.
	SampleSeed uint32 `json:"sample_seed,omitempty"`
	SampleRows int    `json:"sample_rows,omitempty"`
	// Format is xlsx (the default) or pdf (A4 landscape, printed by
	// headless Chromium from the same sheets).
	Format string `json:"format,omitempty"`
}

const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

func (s *Server) exportsManager() (*exports.Manager, error) {
	if s.Exports == nil {
		return nil, &model.Error{Code: model.EINTERNAL, Message: "导出服务未配置 exports are not configured"}
	}
	return s.Exports, nil
}

// ownJob returns a job the actor may see: their own (an admin sees all).
func (s *Server) ownJob(ctx context.Context, m *exports.Manager, id string) (exports.Job, error) {
	j, err := m.Get(id)
	if err != nil {
		return j, err
	}
	a := model.ActorFrom(ctx)
	if j.Owner != a.UserID && !policy.SystemAdmin.Allows(a) {
		return exports.Job{}, exports.ErrNotFound
	}
	return j, nil
}

func (s *Server) exportRoutes() []route {
	return []route{
		{Method: "GET", Pattern: "/api/v1/reports", Summary: "报表目录 the reports that can be exported", Tag: "exports", Action: policy.ReadMarts,
			Response: listResponse[reports.Report]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				return list(reports.Reports), knownParams(r)
			})},
		{Method: "POST", Pattern: "/api/v1/exports", Summary: "创建导出任务 start an Excel export of a report", Tag: "exports", Action: policy.ReadMarts,
			Body: exportRequest{}, Response: exports.Job{},
			Params: []string{"wait"},
			handler: call(http.StatusAccepted, func(ctx context.Context, r *http.Request, req exportRequest) (any, error) {
				m, err := s.exportsManager()
				if err != nil {
					return nil, err
				}
				if err := knownParams(r, "wait"); err != nil {
					return nil, err
				}
				var wait time.Duration
				if v := r.URL.Query().Get("wait"); v != "" {
					n, err := strconv.Atoi(v)
					if err != nil || n < 1 || n > 60 {
						return nil, model.Invalid("wait", "wait 应为 1–60 秒 want 1 to 60 seconds")
					}
					wait = time.Duration(n) * time.Second
				}
				rep := reports.ReportByID(req.Report)
				if req.Report == exports.EvidencePack {
					if m.Evidence == nil {
						return nil, model.Errorf(model.EUNAVAILABLE, "本服务未配置证据包 (no evidence pack here)")
					}
					rep = &reports.Report{ID: exports.EvidencePack, Title: "评级证据包"}
				}
				if rep == nil {
					return nil, model.Invalid("report", "没有这个报表 %q (unknown report)", req.Report)
				}
				a, err := s.analytics()
				if err != nil {
					return nil, err
				}
				q := etl.Query{From: req.From, To: req.To, Ints: map[string][]int64{}}
				if req.Dept != nil {
					q.Ints["dept_id"] = req.Dept
				}
				if req.Institution != nil {
					q.Ints[etl.InstitutionKey] = req.Institution
				}
				if err := q.Validate(etl.MartByName("workload")); err != nil {
					return nil, err
				}
				depts, err := s.scope(ctx, a, &q)
				if err != nil {
					return nil, err
				}
				dims, err := a.Dimensions(ctx)
				if err != nil {
					return nil, err
				}
				var names []string
				for _, d := range dims.Departments {
					if slices.Contains(depts, d.ID) {
						names = append(names, d.Name)
					}
				}
				actor := model.ActorFrom(ctx)
				if req.SampleRows < 0 || req.SampleRows > 1000 {
					return nil, model.Invalid("sample_rows", "每层抽样数应为 1–1000 want 1–1000 rows per stratum")
				}
				switch req.Format {
				case "", "xlsx":
					req.Format = "xlsx"
				case "pdf":
					if _, err := pdfprint.Browser(); err != nil {
						return nil, model.Errorf(model.EUNAVAILABLE, "%v", err)
					}
				default:
					return nil, model.Invalid("format", "格式应为 xlsx 或 pdf (format must be xlsx or pdf)")
				}
				p := reports.Params{From: req.From, To: req.To, Depts: depts, DeptNames: names,
					Deidentify: deidentified(actor), By: actor.Username + "（" + actor.Role + "）",
					SampleSeed: req.SampleSeed, SampleRows: req.SampleRows, Format: req.Format, As: actor.Username}
				j := m.Start(ctx, rep, p, actor.UserID)
				// ?wait=N: a small export answers finished within N seconds
				// (the job is returned as it stands when they pass).
				if wait > 0 {
					wctx, cancel := context.WithTimeout(ctx, wait)
					defer cancel()
					if done, err := m.Wait(wctx, j.ID); err == nil {
						return done, nil
					}
					return m.Get(j.ID)
				}
				return j, nil
			})},
		{Method: "GET", Pattern: "/api/v1/exports/{id}", Summary: "导出进度 an export job's progress (rows written, percent)", Tag: "exports", Action: policy.ReadMarts,
			Response: exports.Job{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				m, err := s.exportsManager()
				if err != nil {
					return nil, err
				}
				return s.ownJob(ctx, m, chi.URLParam(r, "id"))
			})},
		{Method: "DELETE", Pattern: "/api/v1/exports/{id}", Summary: "取消导出 cancel an export job", Tag: "exports", Action: policy.ReadMarts,
			Response: exports.Job{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				m, err := s.exportsManager()
				if err != nil {
					return nil, err
				}
				j, err := s.ownJob(ctx, m, chi.URLParam(r, "id"))
				if err != nil {
					return nil, err
				}
				if err := m.Cancel(j.ID); err != nil {
					return nil, err
				}
				return m.Wait(ctx, j.ID)
			})},
		{Method: "GET", Pattern: "/api/v1/exports/{id}/file", Summary: "下载导出文件 download the workbook of a finished export", Tag: "exports",
			Action: policy.ReadMarts,
			handler: func(w http.ResponseWriter, r *http.Request) {
				m, err := s.exportsManager()
				var j exports.Job
				if err == nil {
					j, err = s.ownJob(r.Context(), m, chi.URLParam(r, "id"))
				}
				var path string
				if err == nil {
					path, err = m.File(j.ID)
				}
				if err != nil {
					writeError(w, r, err)
					return
				}
				serveWorkbook(w, r, path, fmt.Sprintf("%s_%s_%s.xlsx", j.Title, j.Params.From, j.Params.To))
			}},
		{Method: "GET", Pattern: "/api/v1/reports/scheduled", Summary: "定时报表 reports written by the schedules", Tag: "exports", Action: policy.OperateETL,
			Response: listResponse[exports.Scheduled]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				m, err := s.exportsManager()
				if err != nil {
					return nil, err
				}
				l, err := m.ListScheduled()
				return list(l), err
			})},
		{Method: "GET", Pattern: "/api/v1/reports/scheduled/{name}", Summary: "下载定时报表 download a scheduled report", Tag: "exports", Action: policy.OperateETL,
			handler: func(w http.ResponseWriter, r *http.Request) {
				m, err := s.exportsManager()
				var path string
				if err == nil {
					path, err = m.ScheduledFile(chi.URLParam(r, "name"))
				}
				if err != nil {
					writeError(w, r, err)
					return
				}
				if err := s.auditLine(r, "export", "GET /api/v1/reports/scheduled/{name}", "report", chi.URLParam(r, "name"), http.StatusOK, ""); err != nil {
					writeError(w, r, err)
					return
				}
				serveWorkbook(w, r, path, chi.URLParam(r, "name"))
			}},
	}
}

// auditExport writes a finished export job to the audit log as its owner:
// the report, filters, scope, outcome and row count.
func (s *Server) auditExport(ctx context.Context, j exports.Job) {
	status := http.StatusOK
	if j.Status != exports.Done {
		status = http.StatusUnprocessableEntity
	}
	err := s.Backend.Audit(ctx, model.AuditEntry{Action: "export", Route: "POST /api/v1/exports", Entity: "report", EntityID: j.Report,
		Status: status, Detail: fmt.Sprintf("job=%s status=%s from=%s to=%s depts=%v deidentified=%v rows=%d",
			j.ID, j.Status, j.Params.From, j.Params.To, j.Params.Depts, j.Params.Deidentify, j.Rows)})
	if err != nil {
		s.Logger.Error("audit export", "job", j.ID, "err", err)
	}
}

// serveWorkbook sends an xlsx file with a Chinese file name (RFC 6266).
func serveWorkbook(w http.ResponseWriter, r *http.Request, path, name string) {
	f, err := os.Open(path)
	if err != nil {
		writeError(w, r, exports.ErrNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctype, ext := xlsxType, ".xlsx"
	switch {
	case strings.HasSuffix(path, ".pdf"):
		ctype, ext = "application/pdf", ".pdf"
	case strings.HasSuffix(path, ".zip"):
		ctype, ext = "application/zip", ".zip"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="export%s"; filename*=UTF-8''%s`, ext, url.PathEscape(strings.TrimSuffix(name, ".xlsx")+ext)))
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", st.ModTime(), f)
}
