package hl7v2_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/zhiliao/zhiliao/interop/hl7v2"
)

// FuzzParse: any bytes either fail to parse or give a message whose ACK,
// whatever its fields hold, parses again with the same control id.
func FuzzParse(f *testing.F) {
	f.Add([]byte("MSH|^~\\&|HIS|H001|ZHILIAO|H001|202611220900||ORM^O01|M1|P|2.5\rPID|1||MRN1\r"))
	f.Add([]byte("MSH|^~\\&\r"))
	f.Add([]byte("MSH#^~\\&#A#B#C#D#E##X^Y#ID|1#P#2.5\r"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := hl7v2.Parse(raw)
		if err != nil {
			return
		}
		ack, err := hl7v2.Parse(hl7v2.Ack(m, "AE", "x|y^z", "20260302090000"))
		if err != nil {
			t.Fatalf("the ACK does not parse: %v", err)
		}
		if ack.Field("MSA", 1) != "AE" || ack.Type() != "ACK^" {
			t.Fatalf("ACK %q %q", ack.Field("MSA", 1), ack.Type())
		}
	})
}

// TestFields: fields and components by the separators MSH declares.
func TestFields(t *testing.T) {
	m, err := hl7v2.Parse([]byte("MSH#^~\\&#HIS#H001#ZH#H001#202611220900##ORM^O01#C42#P#2.5\rPID#1##MRN7^^^H001\r"))
	if err != nil {
		t.Fatal(err)
	}
	if m.ControlID() != "C42" || m.Type() != "ORM^O01" || m.Comp("PID", 3, 1) != "MRN7" || m.Comp("PID", 3, 4) != "H001" || m.Field("PV1", 2) != "" {
		t.Errorf("control %q type %q PID-3 %q/%q", m.ControlID(), m.Type(), m.Comp("PID", 3, 1), m.Comp("PID", 3, 4))
	}
	for _, bad := range []string{"", "PID|1", "MSH|^~\r", "MSH|^~\\&|A\rX|1\r"} {
		if _, err := hl7v2.Parse([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestEscapesRepetitionsAndGB18030: escapes resolve to the separators they
// stand for, a field's repetitions come apart, and a message from a HIS
// that writes GB18030 (GBK) reads as the same Chinese text, even where a
// GBK byte equals a separator (丨 is 0xD8 0x7C: its second byte is '|').
func TestEscapesRepetitionsAndGB18030(t *testing.T) {
	const utf = "MSH|^~\\&|HIS|H001|ZH|H001|202611220900||ORM^O01|C1|P|2.5\r" +
		"PID|1||MRN1^^^H001~440101199001011234^^^NI||王^小丨明||||||||13800001111~13900002222||||||440101199001011234\r" +
		"NTE|1||A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F\\.br\\G\\X41\\\r"
	gbk, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(utf))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string][]byte{"UTF-8": []byte(utf), "GB18030": gbk} {
		m, err := hl7v2.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := m.Comp("PID", 5, 2); got != "小丨明" {
			t.Errorf("%s: PID-5.2 %q", name, got)
		}
		if got := m.Repetitions("PID", 13); len(got) != 2 || got[1] != "13900002222" {
			t.Errorf("%s: PID-13 repetitions %q", name, got)
		}
		if m.Comp("PID", 3, 1) != "MRN1" || m.Field("PID", 19) != "440101199001011234" {
			t.Errorf("%s: PID-3.1 %q, PID-19 %q", name, m.Comp("PID", 3, 1), m.Field("PID", 19))
		}
		if got := m.Field("NTE", 3); got != "A|B^C&D~E\\F\nGA" {
			t.Errorf("%s: NTE-3 unescaped %q", name, got)
		}
	}
	if _, err := hl7v2.Parse([]byte("MSH|^~\\&|\xff\xff|x\r")); err == nil {
		t.Error("bytes neither UTF-8 nor GB18030 parsed")
	}
}

// FuzzEscape: any text written with Escape into a field reads back whole.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"A|B", "^~\\&", "王小明", "line\rbreak", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) || strings.ContainsAny(v, "\r\n") || strings.TrimSpace(v) != v {
			return // line breaks come back as \n; surrounding space is the message's, not the field's
		}
		m, err := hl7v2.Parse([]byte("MSH|^~\\&|A|B|C|D|20260101||ORM^O01|C1|P|2.5\rNTE|1||" + hl7v2.Escape(v) + "\r"))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := m.Field("NTE", 3); got != v {
			t.Fatalf("%q read back as %q", v, got)
		}
	})
}
