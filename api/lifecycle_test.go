package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// TestLifecycleByRoles walks one laser course through the API, each step by
// the role that does it in the hospital.
func TestLifecycleByRoles(t *testing.T) {
	f := newFixture(t)
	cl, desk, mgr := f.tokens[model.RoleClinician], f.tokens[model.RoleFrontDesk], f.tokens[model.RoleDeptManager]
	name := "欧阳娜娜😀" + strings.Repeat("长", 45) // 50 characters, the most a name may have
	c, _ := f.course(f.laser, 2, name)
	slots := f.slots(2)

	var a model.Appointment
	f.mustDo(desk, "POST", "/api/v1/appointments", model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: "onsite"}, 201, &a)
	var listed struct {
		Items []model.Slot
		Count int
	}
	f.mustDo(desk, "GET", fmt.Sprintf("/api/v1/slots?dept=%d&date=%s", f.deptA.ID, model.DayOf(f.clock.Now())), nil, 200, &listed)
	if listed.Count != len(slots) || listed.Items[0].Booked != 1 {
		t.Fatalf("slots %+v", listed)
	}
	f.clock.Set(slots[0].StartAt.Add(-10 * time.Minute))
	var tk model.QueueTicket
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/appointments/%d/checkin", a.ID), nil, 201, &tk)
	var queue struct {
		Items []model.QueueEntry
	}
	f.mustDo(cl, "GET", "/api/v1/queue?date="+model.DayOf(f.clock.Now()), nil, 200, &queue)
	if len(queue.Items) != 1 || queue.Items[0].PatientName != name {
		t.Fatalf("queue %+v", queue)
	}
	code, body := f.do(cl, "POST", "/api/v1/sessions", map[string]any{"ticket_id": tk.ID, "room_id": f.roomA.ID})
	f.wantError(code, body, 409, "conflict", "consent.required")
	consent := map[string]any{"course_id": c.ID, "signer_name": name, "signer_relation": "self",
		"signature": []byte("\x89PNG\r\n\x1a\nsignature-bytes-here")}
	code, body = f.do(cl, "POST", "/api/v1/consents", consent) // the text was not shown
	f.wantError(code, body, 400, "invalid", "template_id")
	var texts struct{ Items []*model.ConsentTemplate }
	f.mustDo(cl, "GET", fmt.Sprintf("/api/v1/projects/%d/consent-templates", f.laser.ID), nil, 200, &texts)
	if len(texts.Items) != 1 || texts.Items[0].ID != f.consentText.ID {
		t.Fatalf("the laser project's consent texts: %+v", texts.Items)
	}
	consent["template_id"] = texts.Items[0].ID
	var signed model.Consent
	f.mustDo(cl, "POST", "/api/v1/consents", consent, 201, &signed)
	var archived model.SignedConsentText
	f.mustDo(f.tokens[model.RoleQualityOffice], "GET", fmt.Sprintf("/api/v1/consents/%d/text", signed.ID), nil, 200, &archived)
	if !archived.Intact || archived.Template == nil || archived.Template.Body != f.consentText.Body || archived.Consent.TextSM3 != f.consentText.TextSM3 {
		t.Fatalf("the signed consent's text: %+v", archived)
	}
	var s model.Session
	f.mustDo(cl, "POST", "/api/v1/sessions", map[string]any{"ticket_id": tk.ID, "room_id": f.roomA.ID}, 201, &s)
	for _, phase := range []string{"before", "after"} {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("phase", phase)
		fw, _ := mw.CreateFormFile("image", phase+".png")
		fw.Write(append([]byte("\x89PNG\r\n\x1a\n"), []byte(phase)...))
		mw.Close()
		req, _ := http.NewRequest("POST", f.srv.URL+fmt.Sprintf("/api/v1/sessions/%d/images", s.ID), &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+cl)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("image upload: %v %v", err, resp.Status)
		}
		resp.Body.Close()
	}
	var done struct {
		Session model.Session
		Record  model.Record
	}
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/sessions/%d/complete", s.ID), map[string]any{"units": 1, "record_content": `{"note":"=1+1 <script>"}`}, 200, &done)
	if !done.Session.ChargeConfirmed || done.Record.PatientName != name || done.Record.Content != `{"note":"=1+1 <script>"}` {
		t.Fatalf("completion %+v", done)
	}
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/records/%d/sign", done.Record.ID), map[string]any{}, 200, nil)
	// The patient cancels the course's second session: course cancelled, then archived.
	f.mustDo(mgr, "POST", fmt.Sprintf("/api/v1/courses/%d/cancel", c.ID), map[string]string{"reason": "患者要求"}, 200, nil)
	var arch model.Course
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/courses/%d/archive", c.ID), nil, 200, &arch)
	if arch.Status != model.CourseArchived {
		t.Fatalf("archived %+v", arch)
	}
	code, body = f.do(cl, "POST", fmt.Sprintf("/api/v1/records/%d/amend", done.Record.ID), map[string]string{"content": "改"})
	f.wantError(code, body, 409, "conflict", "record.archived_immutable")

	// The evaluator reads the archive de-identified; the clinician in full.
	var full, masked model.PatientArchive
	f.mustDo(cl, "GET", fmt.Sprintf("/api/v1/patients/%d/archive", c.PatientID), nil, 200, &full)
	f.mustDo(f.tokens[model.RoleEvaluator], "GET", fmt.Sprintf("/api/v1/patients/%d/archive", c.PatientID), nil, 200, &masked)
	if full.Patient.Name != name || full.Patient.Phone != "13812345678" {
		t.Fatalf("clinician archive %+v", full.Patient)
	}
	if masked.Patient.Name != model.MaskName(name) || masked.Patient.Phone != "138****5678" || masked.Patient.IDNumber != "110105********002X" ||
		masked.Patient.MRN != model.MaskMRN(full.Patient.MRN) || !strings.Contains(masked.Patient.MRN, "*") ||
		masked.Records[0].PatientName != model.MaskName(name) {
		t.Fatalf("evaluator archive not de-identified: %+v %+v", masked.Patient, masked.Records[0].PatientName)
	}
	// The archive shows each consent with the text it binds; the evaluator
	// sees the signer's name masked.
	if len(full.Consents) != 1 || full.Consents[0].Template == nil || full.Consents[0].Template.Body != f.consentText.Body || !full.Consents[0].Intact ||
		full.Consents[0].Consent.SignerName != name || masked.Consents[0].Consent.SignerName != model.MaskName(name) {
		t.Fatalf("consents in the archive: %+v / masked %+v", full.Consents, masked.Consents)
	}
	// The patient's own link: home, then a complaint from their device.
	var link struct{ Token string }
	f.mustDo(desk, "POST", fmt.Sprintf("/api/v1/patients/%d/link", c.PatientID), nil, 201, &link)
	var home model.PatientHome
	f.mustDo(link.Token, "GET", "/api/v1/patient/home", nil, 200, &home)
	if len(home.Precautions) == 0 {
		t.Fatalf("patient home without precautions: %+v", home)
	}
	var cp model.Complaint
	f.mustDo(link.Token, "POST", "/api/v1/complaints", map[string]any{"dept_id": f.deptA.ID, "category": "waiting", "channel": "phone", "content": "排队太久"}, 201, &cp)
	if cp.PatientID != c.PatientID || cp.Channel != "electronic" {
		t.Fatalf("patient complaint %+v", cp)
	}
	f.mustDo(mgr, "POST", fmt.Sprintf("/api/v1/complaints/%d/reply", cp.ID), map[string]string{"reply": "已改进"}, 200, nil)

	// Every write and every read of identifying data left an audit line.
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE action = 'write' AND status BETWEEN 200 AND 299"); n < 15 {
		t.Errorf("audit writes %d", n)
	}
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE action = 'read_pii' AND role = 'evaluator' AND route = 'GET /api/v1/patients/{id}/archive' AND entity_id = ?", fmt.Sprint(c.PatientID)); n != 1 {
		t.Errorf("evaluator archive read audited %d times", n)
	}
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE request_id = '' OR username = '' OR role = ''"); n != 0 {
		t.Errorf("%d audit lines without request id, user or role", n)
	}
	if n := f.count("SELECT COUNT(*) FROM audit_log WHERE username = ? AND route = 'POST /api/v1/complaints'", fmt.Sprintf("patient:%d", c.PatientID)); n != 1 {
		t.Errorf("patient complaint audited %d times", n)
	}
}

// TestFollowupOverHTTP completes a plain course and its day-1 follow-up with a survey.
func TestFollowupOverHTTP(t *testing.T) {
	f := newFixture(t)
	cl := f.tokens[model.RoleClinician]
	c, _ := f.course(f.plain, 1, "张三")
	var tk model.QueueTicket
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", "/api/v1/queue/walkins", map[string]any{"course_id": c.ID}, 201, &tk)
	var s model.Session
	f.mustDo(cl, "POST", "/api/v1/sessions", map[string]any{"ticket_id": tk.ID, "room_id": f.roomA.ID}, 201, &s)
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/sessions/%d/complete", s.ID), map[string]any{"units": 1, "record_content": "{}"}, 200, nil)
	due := model.DayOf(f.clock.Now().AddDate(0, 0, 1))
	var fl struct{ Items []model.Followup }
	f.mustDo(cl, "GET", "/api/v1/followups?due="+due, nil, 200, &fl)
	if len(fl.Items) != 1 {
		t.Fatalf("follow-ups due %s: %+v", due, fl)
	}
	var res struct {
		Followup model.Followup
		Survey   *model.Survey
	}
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/followups/%d/complete", fl.Items[0].ID), map[string]any{"result": "好转", "channel": "electronic",
		"scores": map[string]int{"overall": 5}}, 200, &res)
	if res.Followup.Status != "done" || res.Survey == nil || res.Survey.Status != "answered" {
		t.Fatalf("follow-up %+v", res)
	}
	// The clinician of another department sees none of it.
	f.mustDo(f.tokenB, "GET", "/api/v1/followups?due="+due, nil, 200, &fl)
	if len(fl.Items) != 0 {
		t.Fatalf("dept B clinician sees dept A follow-ups: %+v", fl.Items)
	}
	b, _ := json.Marshal(res)
	_ = b
}
