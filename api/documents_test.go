package api_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zhiliao/zhiliao/documents"
	"github.com/zhiliao/zhiliao/internal/testbrowser"
	"github.com/zhiliao/zhiliao/internal/testcda"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/vault"
)

type documentList struct {
	Items []*model.Document
	Count int
}

// TestDocumentRegistry: a signed record and a signed consent become
// documents by the generator's own round; amended and signed again the
// record is version 2, replacing version 1 (RPLC), which stays
// retrievable; the signature verifies with the published key and fails on
// altered bytes; the evaluator's XML is masked; another department's
// clinician and a made-up id get 404; bad parameters 400.
func TestDocumentRegistry(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	gen := &documents.Generator{Core: f.db, Now: f.clock.Now}
	cl, qo, ev := f.tokens[model.RoleClinician], f.tokens[model.RoleQualityOffice], f.tokens[model.RoleEvaluator]

	c, rec, _ := f.executed(f.plain, "王小明")
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/records/%d/sign", rec.ID), map[string]any{}, 200, nil)
	if res, err := gen.RunOnce(ctx); err != nil || res.Registered != 1 || res.Failed != 0 {
		t.Fatalf("first round: %+v %v", res, err)
	}
	if res, err := gen.RunOnce(ctx); err != nil || res.Registered != 0 {
		t.Fatalf("a second round made more: %+v %v", res, err)
	}
	var docs documentList
	docs = documentList{}
	f.mustDo(cl, "GET", fmt.Sprintf("/api/v1/documents?patient=%d", c.PatientID), nil, 200, &docs)
	if len(docs.Items) != 1 || docs.Items[0].Version != 1 || docs.Items[0].Kind != model.DocTreatmentRecord || docs.Items[0].KeyOwner == "" {
		t.Fatalf("registry after signing: %+v", docs.Items)
	}
	v1 := *docs.Items[0]

	// Amended and signed again: version 2 replaces version 1.
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/records/%d/amend", rec.ID), map[string]any{"content": `{"site":"腰部","method":"核心训练","intensity":"中","minutes":30,"reaction":"耐受良好","note":"王小明自述好转"}`}, 200, nil)
	f.mustDo(cl, "POST", fmt.Sprintf("/api/v1/records/%d/sign", rec.ID), map[string]any{}, 200, nil)
	if res, err := gen.RunOnce(ctx); err != nil || res.Registered != 1 {
		t.Fatalf("after re-signing: %+v %v", res, err)
	}
	docs = documentList{}
	f.mustDo(cl, "GET", fmt.Sprintf("/api/v1/documents?patient=%d&kind=treatment_record", c.PatientID), nil, 200, &docs)
	if len(docs.Items) != 2 || docs.Items[0].Version != 2 || docs.Items[0].ReplacesID == nil || *docs.Items[0].ReplacesID != v1.ID || docs.Items[0].SetUID != v1.SetUID {
		t.Fatalf("versions: %+v %+v", *docs.Items[0], *docs.Items[1])
	}
	v2 := *docs.Items[0]
	_, x1 := f.get(cl, fmt.Sprintf("/api/v1/documents/%d/xml", v1.ID))
	resp, x2 := f.get(cl, fmt.Sprintf("/api/v1/documents/%d/xml", v2.ID))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") ||
		!strings.Contains(string(x2), `<relatedDocument typeCode="RPLC">`) || !strings.Contains(string(x2), v1.DocUID) ||
		!strings.Contains(string(x2), "核心训练") || strings.Contains(string(x1), "核心训练") {
		t.Fatalf("version 2 (%d):\n%s", resp.StatusCode, x2)
	}
	var meta struct {
		Document *model.Document
		Check    *model.DocumentCheck
	}
	f.mustDo(qo, "GET", fmt.Sprintf("/api/v1/documents/%d", v1.ID), nil, 200, &meta)
	if !meta.Check.Intact || meta.Document.ReplacedByID == nil || *meta.Document.ReplacedByID != v2.ID {
		t.Fatalf("version 1 metadata %+v %+v", meta.Document, meta.Check)
	}

	// The detached signature verifies with the published key, over the bytes served.
	var sig struct {
		Signature, Algorithm string
		PublicKey            string `json:"public_key"`
	}
	f.mustDo(qo, "GET", fmt.Sprintf("/api/v1/documents/%d/signature", v2.ID), nil, 200, &sig)
	rawSig, _ := base64.StdEncoding.DecodeString(sig.Signature)
	rawPub, _ := base64.StdEncoding.DecodeString(sig.PublicKey)
	pub, err := vault.ParsePublicKey(rawPub)
	if err != nil || !vault.Verify(pub, x2, rawSig) || vault.Verify(pub, x1, rawSig) {
		t.Fatalf("signature %s does not verify the served XML (%v)", sig.Algorithm, err)
	}

	// The consent, signed, is a document too; the evaluator reads it masked.
	lc, _ := f.course(f.laser, 1, "李春花")
	var consent model.Consent
	f.mustDo(cl, "POST", "/api/v1/consents", map[string]any{"course_id": lc.ID, "signer_name": "李春花", "signer_relation": "self",
		"signature": []byte("\x89PNG\r\n\x1a\nsignature"), "template_id": f.consentText.ID}, 201, &consent)
	if res, err := gen.RunOnce(ctx); err != nil || res.Registered != 1 {
		t.Fatalf("consent round: %+v %v", res, err)
	}
	docs = documentList{}
	f.mustDo(qo, "GET", fmt.Sprintf("/api/v1/documents?patient=%d", lc.PatientID), nil, 200, &docs)
	if len(docs.Items) != 1 || docs.Items[0].Kind != model.DocConsent {
		t.Fatalf("consent documents %+v", docs.Items)
	}
	ic := *docs.Items[0]
	_, clear := f.get(qo, fmt.Sprintf("/api/v1/documents/%d/xml", ic.ID))
	resp, masked := f.get(ev, fmt.Sprintf("/api/v1/documents/%d/xml", ic.ID))
	if resp.StatusCode != 200 || strings.Contains(string(masked), "李春花") || !strings.Contains(string(masked), "李*花") ||
		!strings.Contains(string(clear), "李春花") || !strings.Contains(string(clear), f.consentText.Body[:30]) {
		t.Fatalf("evaluator's consent (%d):\n%s", resp.StatusCode, masked)
	}
	_, evV2 := f.get(ev, fmt.Sprintf("/api/v1/documents/%d/xml", v2.ID))
	if strings.Contains(string(evV2), "王小明") || strings.Contains(string(evV2), "自述好转") {
		t.Errorf("evaluator's record shows the name or the note:\n%s", evV2)
	}
	testcda.Validate(t, x1, x2, clear, masked, evV2)

	// Scope: another department's clinician, a made-up id, a patient's
	// documents outside the caller's department: not found, never 403.
	for _, path := range []string{fmt.Sprintf("/api/v1/documents/%d", v1.ID), fmt.Sprintf("/api/v1/documents/%d/xml", v1.ID),
		fmt.Sprintf("/api/v1/documents/%d/signature", v1.ID)} {
		code, body := f.do(f.tokenB, "GET", path, nil)
		f.wantError(code, body, 404, model.ENOTFOUND, "")
	}
	code, body := f.do(cl, "GET", "/api/v1/documents/99999/xml", nil)
	f.wantError(code, body, 404, model.ENOTFOUND, "")
	docs = documentList{}
	f.mustDo(f.tokenB, "GET", fmt.Sprintf("/api/v1/documents?patient=%d", c.PatientID), nil, 200, &docs)
	if len(docs.Items) != 0 {
		t.Errorf("another department's clinician lists %d documents", len(docs.Items))
	}
	for param, field := range map[string]string{"kind=report": "kind", "from=2026-13-01": "from", "limit=0": "limit", "patient=x": "patient",
		"from=2026-10-02&to=2026-10-01": "from", "sort=id": "sort"} {
		code, body := f.do(cl, "GET", "/api/v1/documents?"+param, nil)
		f.wantError(code, body, 400, model.EINVALID, field)
	}

	// Altered in the registry, a document fails its check.
	f.tamper(fmt.Sprintf("UPDATE document SET content = (SELECT content FROM document WHERE id = %d) WHERE id = %d", v1.ID, v2.ID))
	f.mustDo(qo, "GET", fmt.Sprintf("/api/v1/documents/%d", v2.ID), nil, 200, &meta)
	if meta.Check.Intact {
		t.Error("an altered document passes its check")
	}
	if n := f.count("SELECT count(*) FROM audit_log WHERE action = 'read_pii' AND entity = 'document'"); n < 10 {
		t.Errorf("%d audit lines for the registry's reads", n)
	}
	// The 互联互通 figures count these documents and calls, refusals apart.
	st, err := f.db.InteropStats(model.WithActor(ctx, model.Actor{Role: model.RoleQualityOffice, InstitutionID: f.inst.ID}),
		f.clock.Now().AddDate(0, -1, 0), f.clock.Now().AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	var docsCounted int64
	for _, d := range st.Documents {
		docsCounted += d.Count
	}
	calls := map[string]model.InteropMonth{}
	for _, s := range st.Services {
		calls[s.Name] = s
	}
	if q, x := calls["文档查询（注册库）"], calls["文档调阅（CDA 文档）"]; docsCounted != 3 || q.Count < 5 || x.Count < 5 || x.Failed != 2 || q.Failed != 6 {
		t.Errorf("interop figures: %d documents, %+v", docsCounted, st.Services)
	}
}

// TestDocumentFailure: a record whose patient has no identifier the
// document needs becomes a failure naming the field, shown to the quality
// office, and no document.
func TestDocumentFailure(t *testing.T) {
	f := newFixture(t)
	c, rec, _ := f.executed(f.plain, "赵六")
	f.mustDo(f.tokens[model.RoleClinician], "POST", fmt.Sprintf("/api/v1/records/%d/sign", rec.ID), map[string]any{}, 200, nil)
	f.tamper(fmt.Sprintf("UPDATE patient SET mrn = '', id_number = '' WHERE id = %d", c.PatientID))
	f.tamper(fmt.Sprintf("UPDATE institution SET code = '' WHERE id = %d", f.inst.ID))
	res, err := (&documents.Generator{Core: f.db, Now: f.clock.Now}).RunOnce(t.Context())
	if err != nil || res.Failed != 1 || res.Registered != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	var failures struct{ Items []model.DocumentFailure }
	f.mustDo(f.tokens[model.RoleQualityOffice], "GET", "/api/v1/documents/failures", nil, 200, &failures)
	if len(failures.Items) != 1 || failures.Items[0].SourceID != rec.ID || failures.Items[0].Field == "" || !strings.Contains(failures.Items[0].Message, "缺少") {
		t.Fatalf("failures %+v", failures.Items)
	}
	if n := f.count("SELECT count(*) FROM document"); n != 0 {
		t.Errorf("%d documents made from a source that lacks a field", n)
	}
}

// TestDocumentInBrowser: a real browser (Chromium) opens a document's XML
// and renders it through the bundled Chinese stylesheet, for the signed-in
// clinician as a page with the title, the patient and the signer.
func TestDocumentInBrowser(t *testing.T) {
	if onPostgres {
		t.Skip("the browser renders the same XML whatever the core's engine: checked on the SQLite run")
	}
	f := newFixture(t)
	site := frontSite(t, f)
	_, rec, _ := f.executed(f.plain, "王小明")
	f.mustDo(f.tokens[model.RoleClinician], "POST", fmt.Sprintf("/api/v1/records/%d/sign", rec.ID), map[string]any{}, 200, nil)
	if _, err := (&documents.Generator{Core: f.db, Now: f.clock.Now}).RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := f.db.QueryRowContext(t.Context(), "SELECT id FROM document").Scan(&id); err != nil {
		t.Fatal(err)
	}
	ctx, _, _ := testbrowser.Tab(t)
	defer testbrowser.ScreenshotOnFailure(t, ctx, "document-xsl")
	if err := testbrowser.Do(ctx, chromedp.Navigate(site+"/dash/login"), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SetValue(chromedp.ID("username"), "u_"+model.RoleClinician), chromedp.SetValue(chromedp.ID("password"), password(model.RoleClinician)),
		chromedp.Click(chromedp.ID("login-submit")), chromedp.Sleep(300*time.Millisecond),
		chromedp.Navigate(fmt.Sprintf("%s/api/v1/documents/%d/xml", site, id))); err != nil {
		t.Fatal(err)
	}
	// The XSL transform replaces the document, and with it the page's
	// script context: ask again until the rendered page answers.
	var page string
	var err error
	for deadline := time.Now().Add(15 * time.Second); page == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		page, err = testbrowser.Run(ctx, chromedp.Evaluate[string](`document.querySelector('h1') ? document.body.innerText : ''`))
	}
	if page == "" {
		t.Fatalf("the document did not render: %v", err)
	}
	for _, want := range []string{"治疗记录", "示例医院", "王小明", "治疗执行者：治疗师TA1", "治疗操作", "运动疗法"} {
		if !strings.Contains(page, want) {
			t.Errorf("rendered document lacks %q:\n%s", want, page)
		}
	}
}
