package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// TestIdempotentResubmission: a form sent again with its Idempotency-Key
// after a lost response writes nothing twice and gets the first response;
// the key is the sender's own and names one request; a refused write keeps
// nothing; concurrent resubmissions commit one write; a write whose
// response was lost in a crash is reported, not repeated.
func TestIdempotentResubmission(t *testing.T) {
	f := newFixture(t)
	desk := f.tokens[model.RoleFrontDesk]
	c, _ := f.course(f.plain, 2, "幂等")
	var link struct{ Token string }
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/patients/%d/link", c.PatientID), nil, 201, &link)
	complaints := func() int { return f.count("SELECT count(*) FROM complaint WHERE patient_id = ?", c.PatientID) }
	body := map[string]any{"dept_id": f.deptA.ID, "category": "waiting", "content": "候诊时间太长"}
	const key = "0b6f3c1e-4a7d-4b5e-9f00-idem-0001"

	first, b1 := f.send(link.Token, "POST", "/api/v1/complaints", body, "Idempotency-Key", key)
	if first.StatusCode != 201 || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s", first.StatusCode, b1)
	}
	again, b2 := f.send(link.Token, "POST", "/api/v1/complaints", body, "Idempotency-Key", key)
	if again.StatusCode != 201 || string(b2) != string(b1) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("resubmission: %d %q replayed=%q, want the first response %s", again.StatusCode, b2, again.Header.Get("Idempotent-Replayed"), b1)
	}
	if n := complaints(); n != 1 {
		t.Fatalf("%d complaints after a resubmission, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE route = 'POST /api/v1/complaints' AND username = ?", fmt.Sprintf("patient:%d", c.PatientID)); n != 2 {
		t.Errorf("%d audit lines, want the write and the replayed attempt", n)
	}

	// The API document names the header on every write.
	doc, err := f.api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	if op := doc.Paths.Find("/api/v1/complaints").Post; op == nil || op.Parameters.GetByInAndName("header", "Idempotency-Key") == nil {
		t.Error("the OpenAPI document does not name Idempotency-Key on POST /api/v1/complaints")
	}

	// The same key with another body is refused; without a key, or with a
	// bad one, nothing is remembered or it is refused at once.
	other := map[string]any{"dept_id": f.deptA.ID, "category": "waiting", "content": "另一件事"}
	code, b := f.send(link.Token, "POST", "/api/v1/complaints", other, "Idempotency-Key", key)
	f.wantError(code.StatusCode, b, 409, model.ECONFLICT, "idempotency.key_reused")
	code, b = f.send(link.Token, "POST", "/api/v1/complaints", other, "Idempotency-Key", "short")
	f.wantError(code.StatusCode, b, 400, model.EINVALID, "Idempotency-Key")
	if n := complaints(); n != 1 {
		t.Fatalf("%d complaints after refused keys, want 1", n)
	}

	// A key is its sender's: the desk's request under the same key is its own.
	deskBody := map[string]any{"dept_id": f.deptA.ID, "patient_id": c.PatientID, "category": "waiting", "channel": "phone", "content": "电话投诉"}
	resp, b := f.send(desk, "POST", "/api/v1/complaints", deskBody, "Idempotency-Key", key)
	if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the desk's request under the patient's key: %d %s", resp.StatusCode, b)
	}

	// A refused write keeps no key: corrected, the same form goes through.
	const key2 = "0b6f3c1e-4a7d-4b5e-9f00-idem-0002"
	empty := map[string]any{"dept_id": f.deptA.ID, "category": "waiting", "content": ""}
	resp, b = f.send(link.Token, "POST", "/api/v1/complaints", empty, "Idempotency-Key", key2)
	if resp.StatusCode != 400 {
		t.Fatalf("empty complaint: %d %s", resp.StatusCode, b)
	}
	if n := f.count("SELECT count(*) FROM idempotency_key WHERE key = ?", key2); n != 0 {
		t.Fatalf("a refused write left %d claims", n)
	}

	// Eight resubmissions at once: one write, and every answer is that
	// write's response (those that found its claim waited for it) or "in
	// progress" (those whose own claim lost to it).
	const key3 = "0b6f3c1e-4a7d-4b5e-9f00-idem-0003"
	before := complaints()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[int64]int{}
	inProgress := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, b := f.send(link.Token, "POST", "/api/v1/complaints", body, "Idempotency-Key", key3)
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case 201:
				var cp model.Complaint
				if err := json.Unmarshal(b, &cp); err != nil {
					t.Error(err)
				}
				ids[cp.ID]++
			case 409:
				var e apiError
				json.Unmarshal(b, &e)
				if e.Error.Rule != "idempotency.in_progress" {
					t.Errorf("concurrent resubmission: %s", b)
				}
				inProgress++
			default:
				t.Errorf("concurrent resubmission: %d %s", resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	if n := complaints(); n != before+1 || len(ids) != 1 {
		t.Fatalf("8 concurrent resubmissions: %d complaints written, answers %v (+%d in progress), want one", n-before, ids, inProgress)
	}

	// The process stopped between the commit and recording the response:
	// the resubmission says the write committed and writes nothing.
	f.tamper(fmt.Sprintf("UPDATE idempotency_key SET status = NULL, body = NULL WHERE key = '%s'", key))
	f.api.ReplayWait.Store(int64(300 * time.Millisecond))
	resp, b = f.send(link.Token, "POST", "/api/v1/complaints", body, "Idempotency-Key", key)
	f.wantError(resp.StatusCode, b, 409, model.ECONFLICT, "idempotency.outcome_unknown")
	if n := complaints(); n != before+1 {
		t.Fatalf("%d complaints after a resubmission of an unknown outcome, want %d", n, before+1)
	}

	// A keyed photo upload is not held to hash it: its scope is checked
	// before its body is read. It keeps no key.
	_, _, sess := f.executed(f.plain, "幂等上传")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("phase", "after")
	fw, _ := mw.CreateFormFile("image", "after.png")
	fw.Write([]byte("\x89PNG\r\n\x1a\nphoto"))
	mw.Close()
	req, _ := http.NewRequest("POST", f.srv.URL+fmt.Sprintf("/api/v1/sessions/%d/images?phase=after", sess.ID), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+f.tokens[model.RoleClinician])
	req.Header.Set("Idempotency-Key", "0b6f3c1e-4a7d-4b5e-9f00-idem-0004")
	up, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	up.Body.Close()
	if up.StatusCode != 201 || f.count("SELECT count(*) FROM idempotency_key WHERE key = '0b6f3c1e-4a7d-4b5e-9f00-idem-0004'") != 0 {
		t.Errorf("a keyed upload: %d, or it kept a key", up.StatusCode)
	}
}
