package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/documents"
	"github.com/zhiliao/zhiliao/model"
)

// fhirTools is the folder of the independent FHIR checks (node, npm ci);
// a test needing them skips locally without them and fails in CI.
func fhirTools(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../interop/fhir/check")
	_, err := os.Stat(filepath.Join(dir, "node_modules", "fhir-kit-client"))
	_, nodeErr := exec.LookPath("node")
	if err != nil || nodeErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the FHIR checks are not installed (node: %v): cd interop/fhir/check && npm ci", nodeErr)
		}
		t.Skip("FHIR checks not installed: cd interop/fhir/check && npm ci (needs node 20)")
	}
	return dir
}

// fhirGet reads a FHIR response: status, content type and body.
func (f *fixture) fhirGet(token, path string, header ...string) (int, map[string]any) {
	f.t.Helper()
	resp, body := f.get(token, path, header...)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		f.t.Fatalf("%s: content type %q: %s", path, ct, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		f.t.Fatalf("%s: %v: %s", path, err, body)
	}
	return resp.StatusCode, out
}

// fhirDay is a treated patient with a signed record, a signed consent and
// their documents, seen through FHIR.
func fhirDay(t *testing.T) (*fixture, int64, int64) {
	f := newFixture(t)
	cl := f.tokens[model.RoleClinician]
	c, rec, _ := f.executed(f.plain, "王小明")
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/records/%d/sign", rec.ID), map[string]any{}, 200, nil)
	lc, _ := f.course(f.laser, 1, "李春花")
	f.mustDo(cl, "POST", "/api/v1/consents", map[string]any{"course_id": lc.ID, "signer_name": "李春花", "signer_relation": "self",
		"signature": []byte("\x89PNG\r\n\x1a\nsignature"), "template_id": f.consentText.ID}, 201, nil)
	if _, err := (&documents.Generator{Core: f.db, Now: f.clock.Now}).RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", fmt.Sprintf("/api/v1/courses/%d/surveys", c.ID), map[string]any{"channel": "electronic"}, 201, nil)
	return f, c.PatientID, lc.PatientID
}

// TestFHIRValidAndClient: every resource the facade serves, in clear and
// de-identified, passes HL7's R4 JSON schema and Medplum's validator; a
// real client (fhir-kit-client) reads the CapabilityStatement and a
// patient, pages a Procedure search with _include through the server's
// links and gets an OperationOutcome for a bad search.
func TestFHIRValidAndClient(t *testing.T) {
	if onPostgres {
		t.Skip("the resources' shape does not depend on the core's engine: validated on the SQLite run; TestFHIRScopeAndBadInput runs on both")
	}
	tools := fhirTools(t)
	f, patient, laserPatient := fhirDay(t)
	qo, ev := f.tokens[model.RoleQualityOffice], f.tokens[model.RoleEvaluator]
	var all []map[string]any
	for _, tok := range []string{qo, ev} {
		for _, path := range []string{"/fhir/r4/metadata", fmt.Sprintf("/fhir/r4/Patient/%d", patient), fmt.Sprintf("/fhir/r4/Patient/%d", laserPatient),
			fmt.Sprintf("/fhir/r4/Procedure?patient=%d&_include=Procedure:patient", patient), fmt.Sprintf("/fhir/r4/Appointment?patient=%d&_include=Appointment:patient", patient),
			fmt.Sprintf("/fhir/r4/ServiceRequest?patient=%d", patient), fmt.Sprintf("/fhir/r4/Consent?patient=%d", laserPatient),
			fmt.Sprintf("/fhir/r4/DocumentReference?patient=%d", patient), fmt.Sprintf("/fhir/r4/DocumentReference?patient=%d", laserPatient),
			fmt.Sprintf("/fhir/r4/Practitioner/%d", f.staffA.ID), fmt.Sprintf("/fhir/r4/Organization/%d", f.inst.ID),
			"/fhir/r4/Procedure?date=ge2026-01-01&status=completed&_sort=-date", "/fhir/r4/Patient?_id=999999",
			fmt.Sprintf("/fhir/r4/Encounter?patient=%d&_include=Encounter:patient", patient), "/fhir/r4/Slot?start=ge2026-01-01&_count=5",
			"/fhir/r4/Schedule?date=ge2026-01-01", fmt.Sprintf("/fhir/r4/QuestionnaireResponse?patient=%d&status=in-progress", patient)} {
			code, body := f.fhirGet(tok, path)
			if code != 200 {
				t.Fatalf("%s: %d %v", path, code, body)
			}
			if b, _ := body["entry"].([]any); path != "/fhir/r4/metadata" && body["resourceType"] == "Bundle" && !strings.Contains(path, "999999") && len(b) == 0 {
				t.Errorf("%s: an empty bundle", path)
			}
			all = append(all, body)
		}
	}
	// An OperationOutcome of a refusal is a resource too.
	_, outcome := f.fhirGet(qo, "/fhir/r4/Procedure?date=yesterday")
	all = append(all, outcome)
	file := filepath.Join(t.TempDir(), "resources.json")
	data, _ := json.Marshal(all)
	os.WriteFile(file, data, 0o600)
	out, err := exec.Command("node", filepath.Join(tools, "validate.cjs"), file).CombinedOutput()
	if err != nil {
		t.Fatalf("validate.cjs: %v\n%s", err, out)
	}
	var res struct {
		Checked int
		Errors  []map[string]any
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Checked < 40 || len(res.Errors) != 0 {
		t.Fatalf("%d resources checked; errors: %v", res.Checked, res.Errors)
	}
	t.Logf("%d resources valid", res.Checked)

	// A real client, through the server's own links.
	var procedures struct{ Total int }
	f.mustDo(qo, "GET", fmt.Sprintf("/fhir/r4/Procedure?patient=%d", patient), nil, 200, &procedures)
	out, err = exec.Command("node", filepath.Join(tools, "client.mjs"), f.srv.URL+"/fhir/r4", qo, fmt.Sprint(patient)).CombinedOutput()
	if err != nil {
		t.Fatalf("client.mjs: %v\n%s", err, out)
	}
	var seen struct {
		FhirVersion string
		Types       []string
		Patient     struct{ ID, Name string }
		Total       int
		Pages       int
		Procedures  []string
		Included    int
		BadSearch   struct {
			Status  int
			Outcome string
		}
	}
	if err := json.Unmarshal(out, &seen); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if seen.FhirVersion != "4.0.1" || len(seen.Types) != 12 || seen.Patient.Name != "王小明" || seen.Total != procedures.Total || seen.Total == 0 ||
		len(seen.Procedures) != seen.Total || seen.Pages != seen.Total || seen.Included != seen.Total || seen.BadSearch.Status != 400 || seen.BadSearch.Outcome != "OperationOutcome" {
		t.Fatalf("the client saw %+v (server total %d)", seen, procedures.Total)
	}
}

// TestFHIRScopeAndBadInput: the evaluator's patient is masked; another
// department's clinician finds nothing and reads 404 (never 403); a
// patient reads only themself; bad searches are 4xx OperationOutcomes
// naming the parameter; lenient handling ignores unknown parameters;
// every read of patient data is audited.
func TestFHIRScopeAndBadInput(t *testing.T) {
	f, patient, _ := fhirDay(t)
	qo, ev := f.tokens[model.RoleQualityOffice], f.tokens[model.RoleEvaluator]
	_, clear := f.fhirGet(qo, fmt.Sprintf("/fhir/r4/Patient/%d", patient))
	_, masked := f.fhirGet(ev, fmt.Sprintf("/fhir/r4/Patient/%d", patient))
	cj, _ := json.Marshal(clear)
	mj, _ := json.Marshal(masked)
	if !strings.Contains(string(cj), "王小明") || strings.Contains(string(mj), "王小明") || !strings.Contains(string(mj), "王*明") ||
		strings.Contains(string(mj), "urn:oid:2.16.156.10011.1.3") || strings.Contains(string(mj), "telecom") {
		t.Fatalf("clear %s\nmasked %s", cj, mj)
	}
	code, body := f.fhirGet(f.tokenB, fmt.Sprintf("/fhir/r4/Patient/%d", patient))
	if code != 404 || body["resourceType"] != "OperationOutcome" {
		t.Fatalf("another department's clinician reads the patient: %d %v", code, body)
	}
	code, body = f.fhirGet(f.tokenB, fmt.Sprintf("/fhir/r4/Procedure?patient=%d", patient))
	if code != 200 || body["total"] != float64(0) {
		t.Fatalf("another department's clinician searches: %d %v", code, body)
	}
	var link struct{ Token string }
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", fmt.Sprintf("/api/v1/patients/%d/link", patient), nil, 201, &link)
	code, body = f.fhirGet(link.Token, "/fhir/r4/Procedure")
	if code != 200 || body["total"] == float64(0) {
		t.Fatalf("the patient's own procedures: %d %v", code, body)
	}
	other, _ := f.course(f.plain, 1, "赵六")
	if code, _ := f.fhirGet(link.Token, fmt.Sprintf("/fhir/r4/Patient/%d", other.PatientID)); code != 404 {
		t.Fatalf("a patient reads another: %d", code)
	}
	for _, c := range []struct {
		path   string
		status int
		issue  string
		param  string
	}{
		{"/fhir/r4/Procedure?date=yesterday", 400, "invalid", "date"},
		{"/fhir/r4/Procedure?_count=-1", 400, "invalid", "_count"},
		{"/fhir/r4/Procedure?color=blue", 400, "not-supported", "color"},
		{"/fhir/r4/Procedure?date=sa2026-01-01", 400, "not-supported", "date"},
		{"/fhir/r4/Procedure?patient:missing=true", 400, "not-supported", "patient:missing"},
		{"/fhir/r4/Procedure?_include=Procedure:performer", 400, "not-supported", "_include"},
		{"/fhir/r4/Procedure?status=finished", 400, "invalid", "status"},
		{"/fhir/r4/Patient?name=王", 400, "not-supported", "name"},
		{"/fhir/r4/Patient", 400, "invalid", "identifier"},
		{"/fhir/r4/Observation", 404, "not-found", ""},
		{"/fhir/r4/Patient/abc", 404, "not-found", ""},
		{"/fhir/r4/Procedure/999999", 404, "not-found", ""},
	} {
		code, body := f.fhirGet(qo, c.path)
		issues, _ := body["issue"].([]any)
		if code != c.status || body["resourceType"] != "OperationOutcome" || len(issues) != 1 {
			t.Errorf("%s: %d %v", c.path, code, body)
			continue
		}
		is := issues[0].(map[string]any)
		expr, _ := is["expression"].([]any)
		if is["code"] != c.issue || (c.param != "" && (len(expr) != 1 || expr[0] != c.param)) || is["diagnostics"] == "" {
			t.Errorf("%s: issue %v", c.path, is)
		}
	}
	code, body = f.fhirGet(qo, "/fhir/r4/Procedure?color=blue", "Prefer", "handling=lenient")
	if code != 200 || body["resourceType"] != "Bundle" {
		t.Errorf("lenient: %d %v", code, body)
	}
	if code, body := f.fhirGet("", "/fhir/r4/Procedure"); code != http.StatusUnauthorized || body["resourceType"] != "OperationOutcome" {
		t.Errorf("anonymous: %d %v", code, body)
	}
	if code, body := f.fhirGet(f.tokens[model.RoleHIS], "/fhir/r4/Procedure"); code != http.StatusForbidden || body["resourceType"] != "OperationOutcome" {
		t.Errorf("the HIS account: %d %v", code, body)
	}
	if code, _ := f.fhirGet("", "/fhir/r4/metadata"); code != 200 {
		t.Errorf("metadata without a session: %d", code)
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'read_pii' AND entity LIKE 'fhir:%'"); n < 10 {
		t.Errorf("%d audit lines for the FHIR reads", n)
	}
}
