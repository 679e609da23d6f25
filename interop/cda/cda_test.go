package cda_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/internal/testcda"
	"github.com/zhiliao/zhiliao/interop/cda"
)

var signed = time.Date(2026, 9, 7, 2, 30, 0, 0, time.UTC)

func treatment() *cda.Doc {
	return &cda.Doc{Kind: cda.TreatmentRecord, ID: "H001-TR-17-1", SetID: "H001-TR-17", Version: 1, Created: signed.Add(time.Minute),
		Patient:   cda.Patient{NationalID: "110101199003078515", MRN: "H001MRN0000017", Name: "王小明", Gender: "M", BirthDate: "1990-03-07"},
		Custodian: cda.Org{Code: "H001", Name: "示例医院"}, Dept: cda.Org{Code: "PF", Name: "皮肤科"},
		Author: cda.Person{Code: "T01", Name: "李治疗"}, LegalAuthenticator: cda.Person{Code: "T01", Name: "李治疗"}, SignedAt: signed,
		ProjectCode: "PF009", ProjectName: "激光治疗", DiagnosisCode: "L81.4", DiagnosisName: "黄褐斑 & 色素沉着 <其他>",
		SessionSeq: 2, Start: signed.Add(-40 * time.Minute), End: signed.Add(-10 * time.Minute), OrderNo: "O-2026-001", ConsentNo: "88",
		Fields: []cda.Field{{Key: "site", Label: "治疗部位", Value: "面部"}, {Key: "wavelength", Label: "波长", Value: "1064", Unit: "nm", Number: true},
			{Key: "energy", Label: "能量密度", Value: "2.5", Unit: "J/cm²", Number: true}, {Key: "bp", Label: "血压", Value: "120/80", Unit: "mmHg"},
			{Key: "reaction", Label: "患者反应", Value: "耐受良好"}, {Key: "note", Label: "备注", Value: "患者王小明诉轻微灼热", Free: true}},
		Precautions: "治疗后严格防晒"}
}

func consent() *cda.Doc {
	d := treatment()
	d.Kind, d.ID, d.SetID, d.ConsentNo = cda.Consent, "H001-IC-88-1", "H001-IC-88", "88"
	d.ConsentTitle, d.ConsentBody = "知情同意书（激光治疗）", "一、治疗目的与方法：……\n二、可能的风险：红斑、水肿。\n我已阅读并理解全部内容，自愿接受治疗。"
	d.Signer, d.SignerRelation = cda.Person{Name: "王小明"}, "本人"
	d.SignatureSHA256 = strings.Repeat("ab", 32)
	d.TextSM3 = strings.Repeat("cd", 32)
	return d
}

// TestDocumentsAreValidCDA: both kinds, first and replacing versions,
// with and without the optional parts, pass the normative schema.
func TestDocumentsAreValidCDA(t *testing.T) {
	v2 := treatment()
	v2.ID, v2.Version, v2.Replaces = "H001-TR-17-2", 2, "H001-TR-17-1"
	bare := treatment()
	bare.Patient = cda.Patient{MRN: "M1", Name: "张三", Gender: "U"}
	bare.DiagnosisCode, bare.DiagnosisName, bare.OrderNo, bare.ConsentNo, bare.Fields, bare.Precautions, bare.Dept = "", "", "", "", nil, "", cda.Org{}
	noCode := treatment()
	noCode.DiagnosisCode = ""
	for name, d := range map[string]*cda.Doc{"treatment": treatment(), "treatment v2": v2, "bare treatment": bare, "diagnosis without code": noCode, "consent": consent()} {
		t.Run(name, func(t *testing.T) {
			doc, err := cda.Build(d)
			if err != nil {
				t.Fatal(err)
			}
			testcda.Validate(t, doc)
			masked, err := cda.Mask(doc)
			if err != nil {
				t.Fatal(err)
			}
			testcda.Validate(t, masked)
		})
	}
}

// TestHeader: the header carries what WS/T 500 asks, escaped.
func TestHeader(t *testing.T) {
	v2 := treatment()
	v2.ID, v2.Version, v2.Replaces = "H001-TR-17-2", 2, "H001-TR-17-1"
	doc, err := cda.Build(v2)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	for _, want := range []string{`<templateId root="2.16.156.10011.2.1.1.28"/>`, `<code code="C0008" codeSystem="2.16.156.10011.2.4"`,
		`<id root="2.16.156.10011.1.3" extension="110101199003078515"/>`, `<id root="2.16.156.10011.1.11" extension="H001MRN0000017"/>`,
		`<administrativeGenderCode code="1" codeSystem="2.16.156.10011.2.3.3.4"`, `<birthTime value="19900307"/>`,
		`<id root="2.16.156.10011.1.5" extension="H001"/>`, `<relatedDocument typeCode="RPLC">`, `<versionNumber value="2"/>`,
		`<time value="20260907103000+0800"/>`, `displayName="黄褐斑 &amp; 色素沉着 &lt;其他&gt;"`, `codeSystem="2.16.156.10011.2.3.3.11.3"`,
		`<code code="DE04.10.174.00"`, `<value xsi:type="PQ" value="1064" unit="nm"/>`, `<?xml-stylesheet type="text/xsl" href="` + cda.StylesheetPath} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s", want)
		}
	}
	c, err := cda.Build(consent())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<templateId root="2.16.156.10011.2.1.1.49"/>`, `<code code="C0029"`, `<id root="2.16.156.10011.1.34" extension="88"/>`,
		`integrityCheck="q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="`, `integrityCheckAlgorithm="SHA-256"`, "患者/法定代理人签名"} {
		if !strings.Contains(string(c), want) {
			t.Errorf("consent missing %s", want)
		}
	}
}

// TestMissingField: a source lacking what the document needs names the
// field and makes no document.
func TestMissingField(t *testing.T) {
	for field, spoil := range map[string]func(*cda.Doc){
		"patient.name":             func(d *cda.Doc) { d.Patient.Name = " " },
		"patient.mrn":              func(d *cda.Doc) { d.Patient.MRN, d.Patient.NationalID = "", "" },
		"institution.code":         func(d *cda.Doc) { d.Custodian.Code = "" },
		"signer":                   func(d *cda.Doc) { d.LegalAuthenticator.Name = "" },
		"signed_at":                func(d *cda.Doc) { d.SignedAt = time.Time{} },
		"project.code":             func(d *cda.Doc) { d.ProjectCode = "" },
		"session.started_at":       func(d *cda.Doc) { d.Start = time.Time{} },
		"consent.text":             func(d *cda.Doc) { d.Kind, d.ConsentBody = cda.Consent, "" },
		"consent.signature_sha256": func(d *cda.Doc) { d.Kind, d.ConsentBody, d.Signer.Name = cda.Consent, "x", "y" },
	} {
		d := treatment()
		spoil(d)
		doc, err := cda.Build(d)
		var miss *cda.MissingError
		if !errors.As(err, &miss) || miss.Field != field || doc != nil || !strings.Contains(err.Error(), "缺少") {
			t.Errorf("%s: %v %v", field, err, doc != nil)
		}
	}
}

// TestMask: the evaluator's view masks names, the national ID and the MRN,
// withholds the note, and keeps the staff and everything else.
func TestMask(t *testing.T) {
	for _, d := range []*cda.Doc{treatment(), consent()} {
		doc, err := cda.Build(d)
		if err != nil {
			t.Fatal(err)
		}
		m, err := cda.Mask(doc)
		if err != nil {
			t.Fatal(err)
		}
		s := string(m)
		for _, gone := range []string{"王小明", "110101199003078515", "H001MRN0000017", "轻微灼热"} {
			if strings.Contains(s, gone) {
				t.Errorf("%s: the masked document still holds %q", d.Kind, gone)
			}
		}
		for _, kept := range []string{"王*明", "李治疗", "示例医院", "2.16.156.10011.1.3"} {
			if !strings.Contains(s, kept) {
				t.Errorf("%s: the masked document lost %q", d.Kind, kept)
			}
		}
		if d.Kind == cda.TreatmentRecord && (!strings.Contains(s, cda.Withheld) || !strings.Contains(s, "面部")) {
			t.Errorf("note not withheld or site lost:\n%s", s)
		}
		if !bytes.HasPrefix(m, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
			t.Error("prolog lost")
		}
	}
	if _, err := cda.Mask([]byte("<a><b></a>")); err == nil {
		t.Error("ill-formed XML masked")
	}
}

// TestStylesheet: the bundled XSL turns a document into a Chinese page
// (xsltproc, an XSLT processor we did not write).
func TestStylesheet(t *testing.T) {
	xsltproc, err := exec.LookPath("xsltproc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xsltproc is missing (Debian: xsltproc)")
		}
		t.Skip("xsltproc not installed: apt-get install xsltproc")
	}
	dir := t.TempDir()
	doc, err := cda.Build(consent())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "doc.xml"), doc, 0o600)
	os.WriteFile(filepath.Join(dir, "zh.xsl"), cda.Stylesheet, 0o600)
	out, err := exec.Command(xsltproc, filepath.Join(dir, "zh.xsl"), filepath.Join(dir, "doc.xml")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"<h1>特殊检查及特殊治疗同意书</h1>", "示例医院", "王小明", "H001MRN0000017", "1990-03-07", "我已阅读并理解全部内容", "医师签名：李治疗", "2026-09-07 10:30"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
}

// FuzzMask: any input is masked or refused, never a panic; what is masked
// is still well-formed and holds no national ID the input held under its OID.
func FuzzMask(f *testing.F) {
	for _, d := range []*cda.Doc{treatment(), consent()} {
		doc, _ := cda.Build(d)
		f.Add(doc)
	}
	f.Add([]byte(`<r><recordTarget><name>张三</name><id root="2.16.156.10011.1.3" extension="110101199003078515"/></recordTarget></r>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := cda.Mask(in)
		if err != nil {
			return
		}
		if _, err := cda.Mask(out); err != nil {
			t.Fatalf("masked output is not well-formed: %v\n%s", err, out)
		}
	})
}
