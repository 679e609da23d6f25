// Package exports owns export jobs: a report written in the background to
// a file under the data folder, with its progress, cancellation and
// download, and the reports a schedule writes to the reports folder. The
// workbook itself is the reports package's; what may be exported, and for
// whom, is the caller's (the API resolves scope and de-identification).
package exports

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/reports"
)

// Job statuses.
const (
	Queued    = "queued"
	Running   = "running"
	Done      = "done"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// Job is one export, as its owner sees it.
type Job struct {
	ID        string         `json:"id"`
	Report    string         `json:"report"`
	Title     string         `json:"title"`
	Status    string         `json:"status"`
	Rows      int64          `json:"rows"`
	Percent   float64        `json:"percent"`
	Error     string         `json:"error,omitempty"`
	Params    reports.Params `json:"params"`
	Owner     int64          `json:"-"`
	Created   time.Time      `json:"created_at"`
	Finished  *time.Time     `json:"finished_at,omitempty"`
	Bytes     int64          `json:"bytes,omitempty"`
	Scheduled bool           `json:"scheduled,omitempty"`
	Kind      string         `json:"kind,omitempty"`    // "" for a report; files jobs name theirs
	Outputs   []Output       `json:"outputs,omitempty"` // a files job's files

	file   string
	dir    string // a files job's folder
	cancel context.CancelFunc
	done   chan struct{}
}

// Manager runs export jobs. Finished files live under Dir until Keep has
// passed.
type Manager struct {
	Source reports.Source
	Rules  *reports.Rules
	Dir    string // DATA/reports
	Logger *slog.Logger
	Keep   time.Duration
	// OnFinish is told every finished job (the audit log).
	OnFinish func(ctx context.Context, j Job)
	// Evidence writes the evidence pack (report EvidencePack) for p; nil:
	// the service offers no pack.
	Evidence func(ctx context.Context, p reports.Params, out io.Writer) error
	// WarehouseNames is the core's policy for names in the warehouse, for
	// every job's 说明 sheet.
	WarehouseNames string

	mu   sync.Mutex
	jobs map[string]*Job
}

func (m *Manager) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.Default()
	}
	return m.Logger
}

func newID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Start queues report rep for p in the background and returns the job.
func (m *Manager) Start(ctx context.Context, rep *reports.Report, p reports.Params, owner int64) Job {
	m.mu.Lock()
	if m.jobs == nil {
		m.jobs = map[string]*Job{}
	}
	if p.WarehouseNames == "" {
		p.WarehouseNames = m.WarehouseNames
	}
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &Job{ID: newID(), Report: rep.ID, Title: rep.Title, Status: Queued, Params: p, Owner: owner,
		Created: time.Now(), cancel: cancel, done: make(chan struct{})}
	m.jobs[j.ID] = j
	snap := *j
	m.mu.Unlock()
	go m.run(jctx, j, rep)
	return snap
}

func (m *Manager) run(ctx context.Context, j *Job, rep *reports.Report) {
	defer close(j.done)
	m.set(j, func(j *Job) { j.Status = Running })
	dir := filepath.Join(m.Dir, "jobs")
	ext := ".xlsx"
	switch {
	case rep.ID == EvidencePack:
		ext = ".zip"
	case j.Params.Format == "pdf":
		ext = ".pdf"
	}
	path := filepath.Join(dir, j.ID+ext)
	res, err := m.write(ctx, rep, j.Params, path, func(rows int64, pct float64) {
		m.set(j, func(j *Job) { j.Rows, j.Percent = rows, pct })
	})
	m.finish(ctx, j, err, func(j *Job) {
		j.Rows, j.file = res.Rows, path
		if st, err := os.Stat(path); err == nil {
			j.Bytes = st.Size()
		}
	})
}

// finish records how a job ended (done: what a successful job adds), logs
// a failure and tells OnFinish.
func (m *Manager) finish(ctx context.Context, j *Job, err error, done func(*Job)) {
	now := time.Now()
	m.set(j, func(j *Job) {
		j.Finished = &now
		switch {
		case errors.Is(err, context.Canceled):
			j.Status, j.Error = Cancelled, "已取消 (cancelled)"
		case err != nil:
			j.Status, j.Error = Failed, model.ErrorMessage(err)
		default:
			j.Status, j.Percent = Done, 100
			done(j)
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		m.logger().Error("export failed", "job", j.ID, "report", j.Report, "err", err)
	}
	if m.OnFinish != nil {
		snap, _ := m.Get(j.ID)
		m.OnFinish(ctx, snap)
	}
}

// EvidencePack is the report id of the rating evidence pack, a zip (see
// package evidence) rather than a workbook.
const EvidencePack = "evidence-pack"

// write exports rep to path through a temporary file, so a failed or
// cancelled export leaves nothing behind and a reader never sees half a file.
func (m *Manager) write(ctx context.Context, rep *reports.Report, p reports.Params, path string, progress func(int64, float64)) (reports.Result, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return reports.Result{}, err
	}
	ext := filepath.Ext(path)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*"+ext)
	if err != nil {
		return reports.Result{}, err
	}
	defer os.Remove(tmp.Name())
	export := reports.Export
	switch ext {
	case ".pdf":
		export = reports.ExportPDF // the same sheets, printed by headless Chromium
	case ".zip":
		export = func(ctx context.Context, _ reports.Source, _ *reports.Rules, _ *reports.Report, p reports.Params, out io.Writer, _ reports.Progress) (reports.Result, error) {
			if m.Evidence == nil {
				return reports.Result{}, model.Errorf(model.EUNAVAILABLE, "本服务未配置证据包 (no evidence pack here)")
			}
			return reports.Result{Sheets: 1, Rows: 1}, m.Evidence(ctx, p, out)
		}
	}
	res, err := export(ctx, m.Source, m.Rules, rep, p, tmp, func(rows int64, done, sheets int) {
		if progress != nil {
			// The notes sheet and the file's compression are the last step.
			progress(rows, 95*float64(done)/float64(sheets))
		}
	})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, err
	}
	return res, os.Rename(tmp.Name(), path)
}

func (m *Manager) set(j *Job, fn func(*Job)) {
	m.mu.Lock()
	fn(j)
	m.mu.Unlock()
}

// ErrNotFound is a job that does not exist or is not the caller's.
var ErrNotFound = model.Errorf(model.ENOTFOUND, "没有这个导出任务 (no such export job)")

// Get returns a snapshot of a job.
func (m *Manager) Get(id string) (Job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[id]
	if !ok {
		return Job{}, ErrNotFound
	}
	return *j, nil
}

// Wait blocks until the job has finished or ctx ends.
func (m *Manager) Wait(ctx context.Context, id string) (Job, error) {
	m.mu.Lock()
	j, ok := m.jobs[id]
	m.mu.Unlock()
	if !ok {
		return Job{}, ErrNotFound
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		return Job{}, ctx.Err()
	}
	return m.Get(id)
}

// Cancel stops a queued or running job.
func (m *Manager) Cancel(id string) error {
	m.mu.Lock()
	j, ok := m.jobs[id]
	m.mu.Unlock()
	if !ok {
		return ErrNotFound
	}
	j.cancel()
	return nil
}

// File is the path of a finished job's workbook.
func (m *Manager) File(id string) (string, error) {
	j, err := m.Get(id)
	if err != nil {
		return "", err
	}
	if j.Status != Done {
		return "", model.Errorf(model.ECONFLICT, "导出尚未完成（%s） (the export is %s)", j.Status, j.Status)
	}
	return j.file, nil
}

// WriteFile exports rep for p to path, now (the command line).
func (m *Manager) WriteFile(ctx context.Context, rep *reports.Report, p reports.Params, path string, progress func(int64, float64)) (reports.Result, error) {
	return m.write(ctx, rep, p, path, progress)
}

// Scheduled is one report a schedule wrote.
type Scheduled struct {
	Name     string    `json:"name"`
	Report   string    `json:"report"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Status   string    `json:"status"` // done or failed
	Error    string    `json:"error,omitempty"`
	Rows     int64     `json:"rows"`
	Bytes    int64     `json:"bytes"`
	Finished time.Time `json:"finished_at"`
	// Due is when the schedule was due to write it; CaughtUp says it was
	// written later, when the service came back after missing that time.
	Due      time.Time `json:"due_at,omitzero"`
	CaughtUp bool      `json:"caught_up,omitempty"`
}

// RunScheduled writes a scheduled report into Dir/scheduled, with a
// record beside it (also for a failure: a failed or empty report is listed as
// failed, never delivered blank).
func (m *Manager) RunScheduled(ctx context.Context, rep *reports.Report, p reports.Params) (Scheduled, error) {
	return m.runScheduled(ctx, rep, p, time.Time{}, false)
}

func (m *Manager) runScheduled(ctx context.Context, rep *reports.Report, p reports.Params, due time.Time, caughtUp bool) (Scheduled, error) {
	dir := filepath.Join(m.Dir, "scheduled")
	name := fmt.Sprintf("%s_%s_%s.xlsx", rep.ID, p.From, p.To)
	res, err := m.write(ctx, rep, p, filepath.Join(dir, name), nil)
	s := Scheduled{Name: name, Report: rep.ID, From: p.From, To: p.To, Status: Done, Rows: res.Rows, Finished: time.Now(),
		Due: due, CaughtUp: caughtUp}
	if err != nil {
		s.Status, s.Error = Failed, model.ErrorMessage(err)
	} else if st, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
		s.Bytes = st.Size()
	}
	rec, _ := json.Marshal(s)
	if werr := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, ".xlsx")+".json"), rec, 0o640); werr != nil && err == nil {
		err = werr
	}
	return s, err
}

// ListScheduled lists the scheduled reports, newest first.
func (m *Manager) ListScheduled() ([]Scheduled, error) {
	matches, err := filepath.Glob(filepath.Join(m.Dir, "scheduled", "*.json"))
	if err != nil {
		return nil, err
	}
	out := []Scheduled{}
	for _, p := range matches {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var s Scheduled
		if json.Unmarshal(b, &s) == nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Finished.After(out[j].Finished) })
	return out, nil
}

// ScheduledFile is the path of a scheduled report that was written.
func (m *Manager) ScheduledFile(name string) (string, error) {
	if name != filepath.Base(name) || !strings.HasSuffix(name, ".xlsx") {
		return "", ErrNotFound
	}
	p := filepath.Join(m.Dir, "scheduled", name)
	if _, err := os.Stat(p); err != nil {
		return "", ErrNotFound
	}
	return p, nil
}
