package exports

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// Jobs of several files (the FHIR bulk export): the same machinery as the
// workbooks (progress, cancel, owner, keep), each job writing into a folder
// of its own that is removed whole when the job fails, is cancelled or is
// deleted.

// Output is one file a files job wrote.
type Output struct {
	Name  string `json:"name"`  // the file's name in the job's folder
	Type  string `json:"type"`  // what it holds (a FHIR resource type)
	Count int64  `json:"count"` // how many records
}

// ErrBusy refuses a second job of a kind while the owner's first runs.
var ErrBusy = model.Errorf(model.ERATELIMIT, "已有一个同类导出正在进行，请稍后再试 (an export of this kind is already running for you)")

// StartFiles runs fn in the background as a job of kind for owner; fn
// writes its files into dir and reports progress. An owner runs one job
// of a kind at a time (ErrBusy).
func (m *Manager) StartFiles(ctx context.Context, kind, title string, owner int64,
	fn func(ctx context.Context, dir string, progress func(rows int64, percent float64)) ([]Output, error)) (Job, error) {
	m.mu.Lock()
	if m.jobs == nil {
		m.jobs = map[string]*Job{}
	}
	for _, j := range m.jobs {
		if j.Kind == kind && j.Owner == owner && (j.Status == Queued || j.Status == Running) {
			m.mu.Unlock()
			return Job{}, ErrBusy
		}
	}
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &Job{ID: newID(), Kind: kind, Report: kind, Title: title, Status: Queued, Owner: owner, Created: time.Now(), cancel: cancel, done: make(chan struct{})}
	j.dir = filepath.Join(m.Dir, "jobs", j.ID)
	m.jobs[j.ID] = j
	snap := *j
	m.mu.Unlock()
	go func() {
		defer close(j.done)
		m.set(j, func(j *Job) { j.Status = Running })
		err := os.MkdirAll(j.dir, 0o750)
		var out []Output
		if err == nil {
			out, err = fn(jctx, j.dir, func(rows int64, pct float64) { m.set(j, func(j *Job) { j.Rows, j.Percent = rows, pct }) })
		}
		if err != nil {
			os.RemoveAll(j.dir)
		}
		m.finish(jctx, j, err, func(j *Job) {
			j.Outputs = out
			for _, o := range out {
				if st, err := os.Stat(filepath.Join(j.dir, o.Name)); err == nil {
					j.Bytes += st.Size()
				}
			}
		})
	}()
	return snap, nil
}

// OutputFile is the path of one file of a finished files job.
func (m *Manager) OutputFile(id, name string) (string, error) {
	j, err := m.Get(id)
	if err != nil {
		return "", err
	}
	if j.Status != Done {
		return "", model.Errorf(model.ECONFLICT, "导出尚未完成（%s） (the export is %s)", j.Status, j.Status)
	}
	for _, o := range j.Outputs {
		if o.Name == name {
			return filepath.Join(j.dir, o.Name), nil
		}
	}
	return "", ErrNotFound
}

// Remove stops a job if it runs, waits for it, and deletes it and its
// files.
func (m *Manager) Remove(id string) error {
	m.mu.Lock()
	j, ok := m.jobs[id]
	m.mu.Unlock()
	if !ok {
		return ErrNotFound
	}
	j.cancel()
	<-j.done
	m.mu.Lock()
	delete(m.jobs, id)
	m.mu.Unlock()
	if j.dir != "" {
		return os.RemoveAll(j.dir)
	}
	if j.file != "" {
		return os.Remove(j.file)
	}
	return nil
}
