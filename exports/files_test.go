package exports_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/zhiliao/zhiliao/exports"
)

// TestFilesJob: a files job writes into its own folder and lists its
// outputs; a second job of the kind for the same owner is refused while the
// first runs (another owner's is not); a removed job's folder is gone; a
// failed job leaves no files.
func TestFilesJob(t *testing.T) {
	m := &exports.Manager{Dir: t.TempDir()}
	release := make(chan struct{})
	var folder string
	j, err := m.StartFiles(t.Context(), "bulk", "导出", 7, func(ctx context.Context, dir string, progress func(int64, float64)) ([]exports.Output, error) {
		folder = dir
		if err := os.WriteFile(filepath.Join(dir, "Patient.ndjson"), []byte("{}\n{}\n"), 0o600); err != nil {
			return nil, err
		}
		progress(2, 50)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return []exports.Output{{Name: "Patient.ndjson", Type: "Patient", Count: 2}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.StartFiles(t.Context(), "bulk", "导出", 7, nil); err != exports.ErrBusy {
		t.Fatalf("a second job of the owner: %v", err)
	}
	other, err := m.StartFiles(t.Context(), "bulk", "导出", 8, func(context.Context, string, func(int64, float64)) ([]exports.Output, error) {
		return nil, os.ErrPermission
	})
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	done, err := m.Wait(t.Context(), j.ID)
	if err != nil || done.Status != exports.Done || len(done.Outputs) != 1 || done.Bytes != 6 {
		t.Fatalf("%+v %v", done, err)
	}
	path, err := m.OutputFile(j.ID, "Patient.ndjson")
	if err != nil || filepath.Dir(path) != folder {
		t.Fatalf("%s %v", path, err)
	}
	if _, err := m.OutputFile(j.ID, "../x"); err != exports.ErrNotFound {
		t.Fatalf("a name not listed: %v", err)
	}
	failed, _ := m.Wait(t.Context(), other.ID)
	if failed.Status != exports.Failed {
		t.Fatalf("failed job %+v", failed)
	}
	if err := m.Remove(j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(folder); !os.IsNotExist(err) {
		t.Fatalf("the removed job's folder: %v", err)
	}
	if _, err := m.Get(j.ID); err != exports.ErrNotFound {
		t.Fatalf("the removed job: %v", err)
	}
}
