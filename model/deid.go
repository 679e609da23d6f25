package model

import "strings"

// MaskName de-identifies a Chinese name: 张三 → 张*, 张三丰 → 张*丰, 欧阳娜娜 → 欧**娜.
func MaskName(s string) string {
	r := []rune(s)
	switch len(r) {
	case 0:
		return ""
	case 1:
		return "*"
	case 2:
		return string(r[0]) + "*"
	}
	return string(r[0]) + strings.Repeat("*", len(r)-2) + string(r[len(r)-1])
}

// MaskPhone keeps the first three and last four digits: 138****5678.
func MaskPhone(s string) string {
	if len(s) < 7 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
}

// MaskIDNumber keeps the region code and the last four characters.
func MaskIDNumber(s string) string {
	if len(s) < 10 {
		return strings.Repeat("*", len(s))
	}
	return s[:6] + strings.Repeat("*", len(s)-10) + s[len(s)-4:]
}

// Deidentify masks a patient's identifying fields in place.
func (p *Patient) Deidentify() {
	p.Name, p.Phone, p.IDNumber = MaskName(p.Name), MaskPhone(p.Phone), MaskIDNumber(p.IDNumber)
	if len(p.BirthDate) >= 4 {
		p.BirthDate = p.BirthDate[:4] // year only
	}
}

// Deidentify masks every identifying field of an archive in place.
func (a *PatientArchive) Deidentify() {
	a.Patient.Deidentify()
	for _, r := range a.Records {
		r.PatientName = MaskName(r.PatientName)
	}
}
