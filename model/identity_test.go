package model

import (
	"strings"
	"testing"
	"time"
)

// TestDemographics: each malformed patient field of a HIS order is refused
// naming the field; well-formed ones pass.
func TestDemographics(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, Local)
	good := func() OrderMessage {
		return OrderMessage{InstitutionID: 1, MessageID: "M1", Action: HISNew, OrderNo: "O1", PatientMRN: "P1", PatientName: "欧阳娜娜",
			BirthDate: "1980-03-15", Phone: "13812345678", IDNumber: "110105198003150012", ProjectCode: "KF001", Quantity: 1,
			VisitType: VisitOutpatient, DiagnosisCode: "M54.5", OrderedAt: at}
	}
	m := good()
	if err := m.Validate(); err != nil {
		t.Fatalf("a good order: %v", err)
	}
	for _, tc := range []struct {
		field string
		set   func(*OrderMessage)
	}{
		{"id_number", func(m *OrderMessage) { m.IDNumber = "110105198003150017" }}, // wrong check digit
		{"id_number", func(m *OrderMessage) { m.IDNumber = "11010519800231001X" }}, // 31 February
		{"id_number", func(m *OrderMessage) { m.IDNumber = "1101051980031500" }},   // 16 characters
		{"id_number", func(m *OrderMessage) { m.IDNumber = "11010519800315001２" }}, // a full-width digit
		{"phone", func(m *OrderMessage) { m.Phone = "1381234567" }},
		{"phone", func(m *OrderMessage) { m.Phone = "12812345678" }},
		{"phone", func(m *OrderMessage) { m.Phone = "138-1234-5678" }},
		{"patient_name", func(m *OrderMessage) { m.PatientName = "\u3000 " }},
		{"patient_name", func(m *OrderMessage) { m.PatientName = strings.Repeat("长", 51) }},
		{"patient_name", func(m *OrderMessage) { m.PatientName = "王\x00五" }},
		{"birth_date", func(m *OrderMessage) { m.BirthDate = "2026-03-03" }}, // after the order
		{"birth_date", func(m *OrderMessage) { m.BirthDate = "1980-02-30" }},
	} {
		m := good()
		tc.set(&m)
		err := m.Validate()
		if ErrorCode(err) != EINVALID || ErrorField(err) != tc.field {
			t.Errorf("%s: %+v → %v", tc.field, m, err)
		}
	}
	for _, ok := range []string{"010-87654321", "0755-1234567", "13912345678"} {
		m := good()
		m.Phone = ok
		if err := m.Validate(); err != nil {
			t.Errorf("phone %s: %v", ok, err)
		}
	}
	m = good()
	m.IDNumber = "11010519491231002x" // a lower-case check character is the same number
	if err := m.Validate(); err != nil {
		t.Errorf("lower-case X: %v", err)
	}
}
