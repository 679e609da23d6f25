package model

import "strings"

// De-identification for evaluators and for exports that need no identity
// (DESIGN.md §7). Every mask works on characters (runes), never bytes: a
// Chinese value stays valid UTF-8, and a short value is masked as surely as
// a long one.

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

// maskMiddle keeps head characters at the start and tail at the end and
// stars the rest.
func maskMiddle(s string, head, tail int) string {
	r := []rune(s)
	if head+tail >= len(r) {
		return strings.Repeat("*", len(r))
	}
	return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
}

// MaskPhone keeps the first three and last four digits of a mobile number
// (138****5678); a shorter number keeps at most a fifth at the start and a
// quarter at the end, so that at least half of it is always masked.
func MaskPhone(s string) string {
	n := len([]rune(s))
	if n >= 11 {
		return maskMiddle(s, 3, 4)
	}
	return maskMiddle(s, n/5, n/4)
}

// MaskIDNumber keeps the region code and the last four characters of an
// 18-character national ID (110105********002X); a shorter number keeps at
// most a quarter at the start and a fifth at the end.
func MaskIDNumber(s string) string {
	n := len([]rune(s))
	if n >= 18 {
		return maskMiddle(s, 6, 4)
	}
	return maskMiddle(s, n/4, n/5)
}

// MaskMRN de-identifies a medical record number: it is a direct identifier
// (the HIS finds the patient by it), so only its first two and last two
// characters stay, enough to tell records apart on one page and not to look
// anyone up (H001MRN0000017 → H0**********17); a short one is starred whole
// but for its last character.
func MaskMRN(s string) string {
	n := len([]rune(s))
	if n >= 8 {
		return maskMiddle(s, 2, 2)
	}
	return maskMiddle(s, 0, n/4)
}

// Deidentify masks a patient's identifying fields in place.
func (p *Patient) Deidentify() {
	p.Name, p.Phone, p.IDNumber, p.MRN = MaskName(p.Name), MaskPhone(p.Phone), MaskIDNumber(p.IDNumber), MaskMRN(p.MRN)
	if r := []rune(p.BirthDate); len(r) >= 4 {
		p.BirthDate = string(r[:4]) // year only
	}
}

// Deidentify masks every identifying field of an archive in place.
func (a *PatientArchive) Deidentify() {
	a.Patient.Deidentify()
	for _, r := range a.Records {
		r.PatientName = MaskName(r.PatientName)
	}
	for _, c := range a.Consents {
		c.Consent.SignerName = MaskName(c.Consent.SignerName)
	}
}
