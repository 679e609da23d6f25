package storetest

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/vault"
)

// testConsentTemplates: a consent text is saved in revisions by the
// department's manager only, refused when it says nothing or says what the
// text in force already says; a consent is refused without the text shown
// (template_id), under a revision no longer in force, or for a project with
// no text at all; signed, it stores the revision and the SM3 digest of the
// exact text (checked here with gmsm's SM3 apart from the store), and the
// archive returns that text intact.
func testConsentTemplates(t *testing.T) {
	e := newEnv(t)
	manager := model.WithActor(e.ctx, model.Actor{UserID: 11, Role: model.RoleDeptManager, DeptID: e.dept.ID, InstitutionID: e.inst.ID})
	other := model.WithActor(e.ctx, model.Actor{UserID: 12, Role: model.RoleDeptManager, DeptID: e.otherDept.ID, InstitutionID: e.inst.ID})
	body := strings.Repeat("激光治疗后局部可能出现红斑、水肿，极少数遗留色素沉着。", 3)

	for _, c := range []struct {
		r     model.NewConsentTemplate
		field string
	}{
		{model.NewConsentTemplate{ProjectID: e.laser.ID, Title: "", Body: body}, "title"},
		{model.NewConsentTemplate{ProjectID: e.laser.ID, Title: "一行\n两行", Body: body}, "title"},
		{model.NewConsentTemplate{ProjectID: e.laser.ID, Title: "知情同意书", Body: "太短"}, "body"},
		{model.NewConsentTemplate{ProjectID: e.laser.ID, Title: "知情同意书", Body: body + "\x00"}, "body"},
		{model.NewConsentTemplate{ProjectID: 0, Title: "知情同意书", Body: body}, "project_id"},
	} {
		if _, err := e.db.SaveConsentTemplate(manager, c.r); model.ErrorCode(err) != model.EINVALID || model.ErrorField(err) != c.field {
			t.Errorf("%+v: want invalid %s, got %v", c.r, c.field, err)
		}
	}
	if _, err := e.db.SaveConsentTemplate(other, model.NewConsentTemplate{ProjectID: e.laser.ID, Title: "知情同意书", Body: body}); model.ErrorCode(err) != model.EFORBIDDEN {
		t.Fatalf("another department's manager edited the text: %v", err)
	}
	old := e.consentText
	_, err := e.db.SaveConsentTemplate(manager, model.NewConsentTemplate{ProjectID: e.laser.ID, Title: old.Title, Body: old.Body})
	wantRule(t, err, "consent_template.unchanged")
	v2, err := e.db.SaveConsentTemplate(manager, model.NewConsentTemplate{ProjectID: e.laser.ID, Title: "知情同意书（激光治疗）", Body: body, Note: "补充色素沉着"})
	e.must(err)
	if v2.Revision != 2 || v2.EditedBy != 11 || v2.DeptID != e.dept.ID {
		t.Fatalf("second revision %+v", v2)
	}
	list, err := e.db.ConsentTemplates(manager, e.laser.ID)
	e.must(err)
	if len(list) != 2 || list[0].ID != v2.ID || list[1].ID != old.ID || list[1].Body != old.Body {
		t.Fatalf("history %+v", list)
	}

	c, _ := e.course(e.laser, 3)
	slots := e.slots(1)
	_, err = e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: model.ChannelWechat})
	e.must(err)
	home, err := e.db.PatientHome(model.WithActor(e.ctx, model.Actor{UserID: 5, Role: model.RolePatient, PatientID: c.PatientID, InstitutionID: e.inst.ID}))
	e.must(err)
	if got := home.ConsentTexts[e.laser.ID]; got == nil || got.ID != v2.ID || len(home.ConsentTexts) != 1 {
		t.Fatalf("the phone's consent texts for a laser booking: %+v", home.ConsentTexts)
	}
	sign := func(templateID int64) (*model.Consent, error) {
		return e.db.SignConsent(e.ctx, model.NewConsent{CourseID: c.ID, TemplateID: templateID, SignerName: "王小明", SignerRelation: "self",
			Signature: signature, WitnessID: e.staff.ID})
	}
	_, err = sign(0)
	if model.ErrorField(err) != "template_id" {
		t.Fatalf("signed without the text shown: %v", err)
	}
	_, err = sign(old.ID)
	wantRule(t, err, "consent.template_changed")
	cs, err := sign(v2.ID)
	e.must(err)
	sum := sm3.Sum([]byte(v2.Title + "\n\n" + v2.Body))
	if cs.TemplateID != v2.ID || cs.TextSM3 != hex.EncodeToString(sum[:]) || cs.TemplateVersion != "KF009@v2" {
		t.Fatalf("signed consent %+v, want revision %d with SM3 %x", cs, v2.ID, sum)
	}
	archived, err := e.db.ConsentText(e.ctx, cs.ID)
	e.must(err)
	if !archived.Intact || archived.Template.Body != body || archived.Consent.ID != cs.ID {
		t.Fatalf("the archive's text: %+v", archived)
	}

	plain, _ := e.course(e.plain, 3) // a project with no consent text
	_, err = e.db.SignConsent(e.ctx, model.NewConsent{CourseID: plain.ID, TemplateID: v2.ID, SignerName: "王小明", SignerRelation: "self",
		Signature: signature, WitnessID: e.staff.ID})
	wantRule(t, err, "consent.no_template")
}

// testDeskSearch: the desk finds a department's patients by part of a name,
// an MRN, the last four digits of a phone (several patients may share
// them), a whole phone or ID number, on a core in clear and on one sealed
// with keys (through the keyed indexes); another department's desk finds
// none of them, and asking for that department's patients is refused.
func testDeskSearch(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		t.Run(map[bool]string{false: "clear", true: "sealed"}[sealed], func(t *testing.T) {
			e := newEnv(t)
			if sealed {
				m, _ := newMaster(t)
				e = envOf(t, openSealed(t, coreLocation(t), m))
			}
			p1 := e.identified("M1", testPhone, testIDNumber)
			p2 := e.identified("M2", "13800005678", "")
			p3 := e.identified("M3", "13911112222", "")
			desk := model.WithActor(e.ctx, model.Actor{UserID: 3, Role: model.RoleFrontDesk, DeptID: e.dept.ID, InstitutionID: e.inst.ID})
			ids := func(q string) []int64 {
				t.Helper()
				found, err := e.db.SearchPatients(desk, e.dept.ID, q)
				e.must(err)
				var out []int64
				for _, f := range found {
					out = append(out, f.Patient.ID)
				}
				slices.Sort(out)
				return out
			}
			for q, want := range map[string][]int64{
				"5678": {p1.ID, p2.ID}, "2222": {p3.ID}, testPhone: {p1.ID}, strings.ToLower(testIDNumber): {p1.ID},
				"M1": {p1.ID}, "小明": {p1.ID, p2.ID, p3.ID}, " 王小明 ": {p1.ID, p2.ID, p3.ID}, "李": nil, "9999": nil, "%": nil,
			} {
				if got := ids(q); !slices.Equal(got, want) {
					t.Errorf("search %q: %v, want %v", q, got, want)
				}
			}
			for _, bad := range []string{"", "   ", strings.Repeat("王", 31), "王\x00"} {
				if _, err := e.db.SearchPatients(desk, e.dept.ID, bad); model.ErrorField(err) != "q" {
					t.Errorf("search %q: %v", bad, err)
				}
			}
			other := model.WithActor(e.ctx, model.Actor{UserID: 4, Role: model.RoleFrontDesk, DeptID: e.otherDept.ID, InstitutionID: e.inst.ID})
			if found, err := e.db.SearchPatients(other, e.otherDept.ID, "5678"); err != nil || len(found) != 0 {
				t.Errorf("another department's desk found %d: %v", len(found), err)
			}
			if _, err := e.db.SearchPatients(other, e.dept.ID, "5678"); model.ErrorCode(err) != model.EFORBIDDEN {
				t.Errorf("another department's patients asked for: %v", err)
			}
		})
	}
}

// caSigners stands in for a hospital CA: real SM2 keys per person, held
// outside the core, renewed on demand.
type caSigners struct {
	mu   sync.Mutex
	keys map[string]vault.Signer
}

func (c *caSigners) Signer(_ context.Context, owner string) (vault.Signer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.keys[owner]; ok {
		return s, nil
	}
	s, _, err := vault.GenerateSM2()
	if err == nil {
		c.keys[owner] = s
	}
	return s, err
}

func (c *caSigners) renew(owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, owner)
}

// testExternalSigners: records are signed through the Signers the store is
// given (a CA's keys, on a core without a master key of its own); every
// signature verifies, one made before the CA renewed the signer's key too,
// and the key the CA holds never reaches the core (only its public half).
func testExternalSigners(t *testing.T) {
	e := newEnv(t)
	ca := &caSigners{keys: map[string]vault.Signer{}}
	e.db.Signers = ca
	recs := e.signedRecords(2)
	ca.renew(fmt.Sprintf("staff:%d", e.staff.ID))
	_, err := e.db.AmendRecord(e.ctx, recs[1].ID, `{"note":"补充"}`)
	e.must(err)
	_, err = e.db.SignRecord(e.ctx, recs[1].ID, e.staff.ID)
	e.must(err)
	rep, err := e.db.VerifyRecords(e.ctx, time.Time{}, time.Time{}, nil)
	if err != nil || rep.Checked != 2 || rep.ByState[store.SignatureValid] != 2 {
		t.Fatalf("records signed by the CA's keys: %+v %v", rep, err)
	}
	var owners, private int
	e.must(e.db.QueryRowContext(e.ctx, "SELECT count(DISTINCT key_owner) FROM record_signature WHERE key_owner LIKE 'ext:staff:%'").Scan(&owners))
	e.must(e.db.QueryRowContext(e.ctx, "SELECT count(*) FROM signing_key WHERE length(wrapped) > 0").Scan(&private))
	if owners != 2 || private != 0 {
		t.Fatalf("%d CA keys named by the signatures (want 2: before and after the renewal); %d private keys in the core", owners, private)
	}
}
