package hl7v2_test

import (
	"testing"

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
