package model

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status in a single table.
const (
	EINVALID      = "invalid"                  // bad input; Field names the offending field
	ENOTFOUND     = "not_found"                // the referenced entity does not exist (or is out of scope)
	ECONFLICT     = "conflict"                 // a lifecycle rule refused the change; Rule names it
	EUNAUTHORIZED = "unauthorized"             // no or bad credentials
	EFORBIDDEN    = "forbidden"                // authenticated, but outside role or department scope
	EINTERNAL     = "internal"                 // a bug or an unavailable dependency
	EUNAVAILABLE  = "unavailable"              // a dependency the answer needs (the audit log) cannot be written now
	ELOCKED       = "locked"                   // the account is locked after repeated failed logins
	EPWCHANGE     = "password_change_required" // the account must change its password before anything else
	ECSRF         = "csrf"                     // a cookie-authenticated write without same-origin proof
)

// Error is the one error type of the domain. Message is written for users, in
// Chinese first; Rule and Field make it machine-readable beyond the code.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Rule    string `json:"rule,omitempty"`  // lifecycle rule that refused a conflict, e.g. "order.not_paid"
	Field   string `json:"field,omitempty"` // input field that failed validation
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Rule != "" {
		s += " [rule " + e.Rule + "]"
	}
	if e.Field != "" {
		s += " [field " + e.Field + "]"
	}
	return s
}

// Errorf returns a coded error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports bad input in one named field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Conflict reports a lifecycle rule that refused the change.
func Conflict(rule, format string, args ...any) *Error {
	return &Error{Code: ECONFLICT, Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing entity.
func NotFound(entity string, id any) *Error {
	return &Error{Code: ENOTFOUND, Message: fmt.Sprintf("%s %v 不存在 (not found)", entity, id)}
}

// ErrorCode returns the code of a domain error, or EINTERNAL for anything else.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorRule returns the rule of a conflict error, or "".
func ErrorRule(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Rule
	}
	return ""
}

// ErrorField returns the field of a validation error, or "".
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorMessage returns the user-facing message; internal errors are not shown.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "内部错误 (internal error)"
}

// Codes used by the HTTP layer only.
const (
	ETOOLARGE  = "too_large"    // request body over the limit
	ERATELIMIT = "rate_limited" // too many attempts (login)
	EBADMETHOD = "method_not_allowed"
)
