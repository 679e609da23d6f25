package hl7v2_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zhiliao/zhiliao/interop/hl7v2"
)

// TestNak: a refusal carries an ERR segment naming the field in HL7 terms
// and in words, readable by our own parser.
func TestNak(t *testing.T) {
	in, err := hl7v2.Parse([]byte("MSH|^~\\&|HIS|H001|ZHILIAO|TREATMENT|20260901080000||ORM^O01|C42|P|2.5\rORC|NW|O1||||||x\r"))
	if err != nil {
		t.Fatal(err)
	}
	ack, err := hl7v2.Parse(hl7v2.Nak(in, "AE", "ORC-7", "数量不是整数 \"x|y\"", "20260901080001"))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Field("MSA", 1) != "AE" || ack.Field("MSA", 2) != "C42" || ack.Field("ERR", 2) != "ORC^1^7" ||
		ack.Comp("ERR", 3, 1) != "103" || ack.Field("ERR", 4) != "E" || ack.Field("ERR", 8) != `ORC-7: 数量不是整数 "x|y"` {
		t.Errorf("ERR %q %q %q %q", ack.Field("ERR", 2), ack.Field("ERR", 3), ack.Field("ERR", 4), ack.Field("ERR", 8))
	}
	ar, _ := hl7v2.Parse(hl7v2.Nak(nil, "AR", "", "not HL7", "20260901080001"))
	if ar.Field("MSA", 1) != "AR" || ar.Comp("ERR", 3, 1) != "102" || ar.Field("ERR", 2) != "" {
		t.Errorf("AR's ERR %q", ar.Field("ERR", 3))
	}
	typ, _ := hl7v2.Parse(hl7v2.Nak(in, "AE", "MSH-9", "unsupported", "20260901080001"))
	if typ.Comp("ERR", 3, 1) != "200" || typ.Field("ERR", 2) != "MSH^1^9" {
		t.Errorf("MSH-9's ERR %q %q", typ.Field("ERR", 2), typ.Field("ERR", 3))
	}
}

// FuzzBuild: any values built into fields come back whole through the
// parser, whatever delimiters or line breaks they hold.
func FuzzBuild(f *testing.F) {
	f.Add("王小明", "A|B^C~D\\E&F", "line1\nline2")
	f.Add("", "^", "\\.br\\")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) || !utf8.ValidString(c) {
			return
		}
		msg := hl7v2.Header("HIS", "H001", "20260901080000", "SIU^S12^SIU_S12", "ZL1") + hl7v2.Segment("PID", "", "", hl7v2.Field(a, b), "", hl7v2.Field(c))
		m, err := hl7v2.Parse([]byte(msg))
		if err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		// The parser trims a value's surrounding spaces (HIS systems pad
		// fields); line breaks travel as \.br\ and come back as \n.
		norm := func(s string) string {
			return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"))
		}
		if got := m.Comp("PID", 3, 1); norm(got) != norm(a) || norm(m.Comp("PID", 3, 2)) != norm(b) {
			t.Fatalf("PID-3 %q^%q, want %q^%q", got, m.Comp("PID", 3, 2), a, b)
		}
		if got := norm(m.Comp("PID", 5, 1)); got != norm(c) {
			t.Fatalf("PID-5 %q, want %q", got, c)
		}
	})
}
