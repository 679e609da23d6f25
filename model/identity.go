package model

import (
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Validation of the identifiers a HIS sends about a patient (DESIGN.md §7):
// the resident ID number with its check character (GB 11643-1999), mainland
// phone numbers, names of 1–50 characters without control characters, and
// birth dates that are real and not after the order.

var (
	mobileRe   = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	landlineRe = regexp.MustCompile(`^0[0-9]{2,3}-?[0-9]{7,8}$`)
	idWeights  = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
)

// NationalIDCheck is the check character of the first 17 digits of a
// resident ID number (ISO 7064 MOD 11-2).
func NationalIDCheck(body string) byte {
	sum := 0
	for i := 0; i < 17 && i < len(body); i++ {
		sum += int(body[i]-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11]
}

// ValidNationalID reports whether s is an 18-character resident ID number:
// 17 digits, the right check character, and a birth date that exists.
func ValidNationalID(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	if _, err := time.Parse("20060102", s[6:14]); err != nil {
		return false
	}
	return strings.ToUpper(s[17:]) == string(NationalIDCheck(s))
}

// ValidPhone reports whether s is a mainland mobile number or a landline
// with its area code.
func ValidPhone(s string) bool { return mobileRe.MatchString(s) || landlineRe.MatchString(s) }

// checkPersonName refuses a name that is blank, over 50 characters, or
// holds control characters.
func checkPersonName(field, s string) error {
	if !utf8.ValidString(s) || strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\u3000' }) == "" {
		return Invalid(field, "姓名不能为空 (name required)")
	}
	if n := utf8.RuneCountInString(s); n > 50 {
		return Invalid(field, "姓名至多 50 个字符 (name over 50 characters)")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Invalid(field, "姓名不能包含控制字符 (control character in name)")
		}
	}
	return nil
}

// validateDemographics checks the patient fields of a new or changed order.
func (m *OrderMessage) validateDemographics() error {
	if m.PatientName != "" {
		if err := checkPersonName("patient_name", m.PatientName); err != nil {
			return err
		}
	}
	if m.IDNumber != "" && !ValidNationalID(m.IDNumber) {
		return Invalid("id_number", "身份证号码格式或校验位不正确 (not a valid 18-character resident ID, GB 11643)")
	}
	if m.Phone != "" && !ValidPhone(m.Phone) {
		return Invalid("phone", "电话号码格式不正确：应为 11 位手机号或带区号的固定电话 (invalid phone number)")
	}
	if m.BirthDate != "" {
		b, err := time.ParseInLocation("2006-01-02", m.BirthDate, Local)
		if err != nil {
			return Invalid("birth_date", "出生日期应为 YYYY-MM-DD 的有效日期 (invalid birth date)")
		}
		if !m.OrderedAt.IsZero() && b.After(m.OrderedAt) {
			return Invalid("birth_date", "出生日期不能晚于开单时间 (birth date in the future)")
		}
	}
	return nil
}
