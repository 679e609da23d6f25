package model

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// PasswordPolicy is what a new password must satisfy (等保2.0 三级 身份鉴别:
// length and complexity, no password equal to the account name).
type PasswordPolicy struct {
	MinLength int // characters
	Classes   int // of: lower case, upper case, digits, other characters
}

// DefaultPasswordPolicy: at least 10 characters of three classes.
var DefaultPasswordPolicy = PasswordPolicy{MinLength: 10, Classes: 3}

// Check refuses a password that breaks the policy, naming field "password".
func (p PasswordPolicy) Check(username, password string) error {
	n := utf8.RuneCountInString(password)
	if n < p.MinLength || len(password) > 72 { // bcrypt reads at most 72 bytes
		return Invalid("password", "密码须为 %d–72 个字符 (password must be %d to 72 characters)", p.MinLength, p.MinLength)
	}
	var lower, upper, digit, other int
	for _, r := range password {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		case unicode.IsControl(r):
			return Invalid("password", "密码不能包含控制字符 (no control characters)")
		default:
			other = 1
		}
	}
	if lower+upper+digit+other < p.Classes {
		return Invalid("password", "密码须包含大写字母、小写字母、数字、其他字符中的至少 %d 类 (at least %d character classes)", p.Classes, p.Classes)
	}
	if username != "" && strings.Contains(strings.ToLower(password), strings.ToLower(username)) {
		return Invalid("password", "密码不能包含用户名 (password must not contain the username)")
	}
	return nil
}
