package api_test

import (
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/zhiliao/zhiliao/model"
)

// zeros is an endless body of zero bytes, so a client can send 20 MiB
// without holding it.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// upload posts a multipart image of size bytes, streamed.
func (f *fixture) upload(token string, sessionID int64, phase string, size int64, query ...string) (int, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		mw.WriteField("phase", phase)
		fw, _ := mw.CreateFormFile("image", "big.png")
		fw.Write([]byte("\x89PNG\r\n\x1a\n"))
		io.Copy(fw, io.LimitReader(zeros{}, size))
		mw.Close()
		pw.Close()
	}()
	url := f.srv.URL + fmt.Sprintf("/api/v1/sessions/%d/images", sessionID)
	if len(query) > 0 {
		url += "?" + query[0]
	}
	req, _ := http.NewRequest("POST", url, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	pr.CloseWithError(io.ErrClosedPipe) // the server may answer before reading it all
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestUploadsCheckedBeforeReading: uploads that session, scope or state
// refuse are answered before their body is read, leave no file, and cost
// no memory however many arrive at once; an oversized image is refused
// with 413 and leaves nothing either.
func TestUploadsCheckedBeforeReading(t *testing.T) {
	f := newFixture(t)
	_, _, s := f.executed(f.plain, "周九")
	files := countFiles(t, f.db.FilesDir)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 4 {
			case 0: // another department's clinician
				codes[i], _ = f.upload(f.tokenB, s.ID, "after", 20<<20)
			case 1: // no such session
				codes[i], _ = f.upload(f.tokens[model.RoleClinician], 999999, "after", 20<<20)
			case 2: // a role that takes no images
				codes[i], _ = f.upload(f.tokens[model.RoleFrontDesk], s.ID, "after", 20<<20)
			case 3: // the session is over: no "before" image (the phase in the query is checked first)
				codes[i], _ = f.upload(f.tokens[model.RoleClinician], s.ID, "before", 20<<20, "phase=before")
			}
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&m1)
	for i, c := range codes {
		if c < 400 || c >= 500 {
			t.Errorf("refused upload %d: status %d", i, c)
		}
	}
	// 8 × 20 MiB were offered; a server that read them would allocate 160 MiB.
	if grown := int64(m1.TotalAlloc) - int64(m0.TotalAlloc); grown > 32<<20 {
		t.Errorf("refused uploads allocated %d MiB", grown>>20)
	}
	if n := countFiles(t, f.db.FilesDir); n != files {
		t.Errorf("refused uploads left %d files", n-files)
	}
	code, body := f.upload(f.tokens[model.RoleClinician], s.ID, "after", 21<<20)
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("21 MiB image: %d %s", code, body)
	}
	if n := countFiles(t, f.db.FilesDir); n != files {
		t.Errorf("an oversized upload left %d files", n-files)
	}
	code, body = f.upload(f.tokens[model.RoleClinician], s.ID, "after", 1<<10)
	if code != http.StatusCreated || countFiles(t, f.db.FilesDir) != files+1 {
		t.Errorf("a good upload: %d %s", code, body)
	}
}
