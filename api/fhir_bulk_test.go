package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// bulkExport kicks an export off as tok and follows it to its manifest.
func (f *fixture) bulkExport(tok, path string) (string, map[string]any) {
	f.t.Helper()
	resp, body := f.get(tok, path, "Prefer", "respond-async", "Accept", "application/fhir+json")
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Content-Location") == "" {
		f.t.Fatalf("kick-off %s: %d %s", path, resp.StatusCode, body)
	}
	status := strings.TrimPrefix(resp.Header.Get("Content-Location"), f.srv.URL)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, body := f.get(tok, status)
		switch resp.StatusCode {
		case http.StatusAccepted:
			if resp.Header.Get("X-Progress") == "" {
				f.t.Fatal("a running export without X-Progress")
			}
			continue
		case http.StatusOK:
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				f.t.Fatal(err)
			}
			return status, m
		default:
			f.t.Fatalf("status %s: %d %s", status, resp.StatusCode, body)
		}
	}
	f.t.Fatal("the export did not finish")
	return "", nil
}

// TestFHIRBulkExport: the quality office exports the hospital and one
// department as NDJSON, every line a valid resource (HL7's schema and
// Medplum's validator), the counts in the manifest; the evaluator's export
// is masked; a cancelled (deleted) export's status and files are gone; bad
// kick-offs are OperationOutcomes; a department of no one's is 404.
func TestFHIRBulkExport(t *testing.T) {
	f, patient, _ := fhirDay(t)
	qo, ev := f.tokens[model.RoleQualityOffice], f.tokens[model.RoleEvaluator]
	status, manifest := f.bulkExport(qo, "/fhir/r4/$export")
	outputs, _ := manifest["output"].([]any)
	if len(outputs) != 6 || manifest["requiresAccessToken"] != true {
		t.Fatalf("manifest %v", manifest)
	}
	var lines []json.RawMessage
	counts := map[string]int{}
	for _, o := range outputs {
		out := o.(map[string]any)
		resp, body := f.get(qo, strings.TrimPrefix(out["url"].(string), f.srv.URL))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/fhir+ndjson" {
			t.Fatalf("%v: %d", out["url"], resp.StatusCode)
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines = append(lines, json.RawMessage(append([]byte(nil), sc.Bytes()...)))
			counts[out["type"].(string)]++
		}
		if float64(counts[out["type"].(string)]) != out["count"].(float64) {
			t.Errorf("%v: %d lines, manifest says %v", out["type"], counts[out["type"].(string)], out["count"])
		}
	}
	if counts["Patient"] < 2 || counts["Procedure"] < 1 || counts["Consent"] < 1 || counts["DocumentReference"] < 2 || counts["Appointment"] < 1 || counts["ServiceRequest"] < 2 {
		t.Fatalf("exported %v", counts)
	}
	if tools := fhirToolsOptional(t); tools != "" {
		file := filepath.Join(t.TempDir(), "bulk.json")
		data, _ := json.Marshal(lines)
		os.WriteFile(file, data, 0o600)
		out, err := exec.Command("node", filepath.Join(tools, "validate.cjs"), file).CombinedOutput()
		var res struct {
			Checked int
			Errors  []any
		}
		if err != nil || json.Unmarshal(out, &res) != nil || res.Checked != len(lines) || len(res.Errors) != 0 {
			t.Fatalf("validate.cjs: %v %s", err, out)
		}
	}

	// Deleted: the status and the files are gone.
	resp, _ := f.send(qo, "DELETE", status, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if code, body := f.fhirGet(qo, status); code != 404 || body["resourceType"] != "OperationOutcome" {
		t.Fatalf("status after delete: %d %v", code, body)
	}
	if resp, _ := f.get(qo, strings.TrimPrefix(outputs[0].(map[string]any)["url"].(string), f.srv.URL)); resp.StatusCode != 404 {
		t.Fatalf("a file after delete: %d", resp.StatusCode)
	}

	// The evaluator's export is masked; a department export holds its own.
	_, evm := f.bulkExport(ev, "/fhir/r4/$export?_type=Patient")
	resp, body := f.get(ev, strings.TrimPrefix(evm["output"].([]any)[0].(map[string]any)["url"].(string), f.srv.URL))
	if resp.StatusCode != 200 || bytes.Contains(body, []byte("王小明")) || !bytes.Contains(body, []byte("王*明")) || bytes.Contains(body, []byte("2.16.156.10011.1.3")) {
		t.Fatalf("the evaluator's patients:\n%s", body)
	}
	if resp, _ := f.get(qo, strings.TrimPrefix(evm["output"].([]any)[0].(map[string]any)["url"].(string), f.srv.URL)); resp.StatusCode != 404 {
		t.Fatalf("another caller reads the evaluator's export: %d", resp.StatusCode)
	}
	_, dm := f.bulkExport(qo, fmt.Sprintf("/fhir/r4/Group/%d/$export?_type=Procedure", f.deptB.ID))
	if n := dm["output"].([]any)[0].(map[string]any)["count"]; n != float64(0) {
		t.Fatalf("department B's procedures: %v", n)
	}
	_, da := f.bulkExport(qo, fmt.Sprintf("/fhir/r4/Group/%d/$export?_type=Procedure&_since=2020-01-01T00:00:00%%2B08:00", f.deptA.ID))
	if n := da["output"].([]any)[0].(map[string]any)["count"]; n == float64(0) {
		t.Fatalf("department A's procedures: %v", n)
	}
	for _, c := range []struct {
		path, prefer string
		status       int
		param        string
	}{
		{"/fhir/r4/$export", "", 400, "Prefer"},
		{"/fhir/r4/$export?_type=Observation", "respond-async", 400, "_type"},
		{"/fhir/r4/$export?_since=yesterday", "respond-async", 400, "_since"},
		{"/fhir/r4/$export?_outputFormat=csv", "respond-async", 400, "_outputFormat"},
		{"/fhir/r4/$export?x=1", "respond-async", 400, "x"},
		{"/fhir/r4/Group/999999/$export", "respond-async", 404, ""},
	} {
		code, body := f.fhirGet(qo, c.path, "Prefer", c.prefer)
		if code != c.status || body["resourceType"] != "OperationOutcome" {
			t.Errorf("%s: %d %v", c.path, code, body)
		}
	}
	if code, _ := f.fhirGet(f.tokens[model.RoleClinician], "/fhir/r4/$export", "Prefer", "respond-async"); code != 403 {
		t.Errorf("a clinician's bulk export: %d", code)
	}
	_ = patient
}

// fhirToolsOptional is fhirTools for a test whose other checks stand
// without it: "" locally when the checks are not installed.
func fhirToolsOptional(t *testing.T) string {
	dir, _ := filepath.Abs("../interop/fhir/check")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ajv")); err != nil && os.Getenv("CI") == "" {
		return ""
	}
	return fhirTools(t)
}
