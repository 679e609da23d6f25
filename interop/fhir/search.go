package fhir

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Param is a search parameter a resource type supports, as the
// CapabilityStatement lists it.
type Param struct {
	Name, Type, Doc string // type: token, date, reference, string
}

// Kind is a resource type served: its search parameters and includes.
type Kind struct {
	Type     string
	Params   []Param
	Includes []string // e.g. "Procedure:patient"
	Sorts    []string // the _sort values supported ("date", "-date")
}

// Common are the parameters every search takes.
var Common = []string{"_id", "_count", "_sort", "_include", "_offset"}

// Search is a parsed search.
type Search struct {
	Type       string
	ID         string
	Patient    string // the patient's id (patient=123 or Patient/123)
	Identifier *Identifier
	Statuses   []string
	From, To   *time.Time // From inclusive, To exclusive, both UTC
	Kind       string     // DocumentReference type code
	Count      int
	Offset     int
	Desc       bool // _sort=-date
	Include    bool // the patient of each match
}

// Identifier is an identifier parameter, system|value.
type Identifier struct{ System, Value string }

// Error is a search the server refuses: the parameter named, in Chinese
// and English, answered with an OperationOutcome (issue code "invalid" or
// "not-supported").
type Error struct {
	Param, Message string
	NotSupported   bool
}

func (e *Error) Error() string { return e.Param + ": " + e.Message }

func bad(param, format string, a ...any) *Error {
	return &Error{Param: param, Message: fmt.Sprintf(format, a...)}
}

// DefaultCount and MaxCount bound a page.
const (
	DefaultCount = 50
	MaxCount     = 500
)

// china is the time zone of dates given without one.
var china = time.FixedZone("CST", 8*3600)

// ParseSearch reads a search of kind from its query. Unknown parameters
// are refused unless lenient (Prefer: handling=lenient), when they are
// ignored, as the FHIR specification asks.
func ParseSearch(kind Kind, q url.Values, lenient bool) (*Search, error) {
	s := &Search{Type: kind.Type, Count: DefaultCount}
	known := map[string]Param{}
	for _, p := range kind.Params {
		known[p.Name] = p
	}
	for name, vals := range q {
		if name == "" {
			return nil, bad("(empty)", "参数名为空 (a parameter without a name)")
		}
		base, _, _ := strings.Cut(name, ":")
		p, isParam := known[base]
		if !isParam && !slices.Contains(Common, name) {
			if lenient {
				continue
			}
			return nil, &Error{Param: name, Message: "不支持的检索参数 (unknown search parameter)", NotSupported: true}
		}
		if name != base {
			return nil, &Error{Param: name, Message: "不支持检索修饰符 (search modifiers are not supported)", NotSupported: true}
		}
		if len(vals) > 1 && p.Type != "date" {
			return nil, bad(name, "参数只能出现一次 (repeated parameter)")
		}
		v := vals[0]
		if strings.TrimSpace(v) == "" {
			return nil, bad(name, "参数值为空 (empty value)")
		}
		if len(v) > 200 {
			return nil, bad(name, "参数值过长 (value too long)")
		}
		switch name {
		case "_id":
			if _, err := strconv.ParseUint(v, 10, 63); err != nil {
				return nil, bad(name, "资源编号应为正整数 (ids are positive integers)")
			}
			s.ID = v
		case "_count":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > MaxCount {
				return nil, bad(name, "_count 应为 0–%d 的整数", MaxCount)
			}
			s.Count = n
		case "_offset":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1_000_000 {
				return nil, bad(name, "_offset 应为非负整数")
			}
			s.Offset = n
		case "_sort":
			if !slices.Contains(kind.Sorts, v) {
				return nil, &Error{Param: name, Message: fmt.Sprintf("不支持按 %q 排序 (supported: %s)", v, strings.Join(kind.Sorts, ", ")), NotSupported: true}
			}
			s.Desc = strings.HasPrefix(v, "-")
		case "_include":
			if !slices.Contains(kind.Includes, v) {
				return nil, &Error{Param: name, Message: fmt.Sprintf("不支持 _include=%s", v), NotSupported: true}
			}
			s.Include = true
		case "patient":
			id := strings.TrimPrefix(v, "Patient/")
			if _, err := strconv.ParseUint(id, 10, 63); err != nil {
				return nil, bad(name, "patient 应为患者编号或 Patient/编号")
			}
			s.Patient = id
		case "identifier":
			system, value, ok := strings.Cut(v, "|")
			if !ok {
				system, value = "", v
			}
			if value == "" {
				return nil, bad(name, "identifier 应为 system|value")
			}
			s.Identifier = &Identifier{System: system, Value: value}
		case "status":
			for _, st := range strings.Split(v, ",") {
				if st = strings.TrimSpace(st); st == "" || len(st) > 40 {
					return nil, bad(name, "状态值无效")
				}
				s.Statuses = append(s.Statuses, st)
			}
		case "type":
			s.Kind = v
		default:
			if p.Type == "date" {
				for _, dv := range vals {
					if err := s.date(name, dv); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return s, nil
}

// date reads a date parameter with its prefix (eq, ge, le, gt, lt; eq when
// none) at the precision given (YYYY, YYYY-MM, YYYY-MM-DD, or a dateTime),
// as the range it means, narrowing From and To.
func (s *Search) date(name, v string) error {
	prefix := "eq"
	if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix, v = v[:2], v[2:]
	}
	lo, hi, err := dateRange(v)
	if err != nil {
		return bad(name, "日期 %q 无效：应为 [eq|ge|le|gt|lt]YYYY-MM-DD 或 YYYY-MM-DDThh:mm:ss+08:00", v)
	}
	narrowFrom := func(t time.Time) {
		if s.From == nil || t.After(*s.From) {
			s.From = &t
		}
	}
	narrowTo := func(t time.Time) {
		if s.To == nil || t.Before(*s.To) {
			s.To = &t
		}
	}
	switch prefix {
	case "eq":
		narrowFrom(lo)
		narrowTo(hi)
	case "ge":
		narrowFrom(lo)
	case "gt":
		narrowFrom(hi)
	case "le":
		narrowTo(hi)
	case "lt":
		narrowTo(lo)
	default:
		return &Error{Param: name, Message: fmt.Sprintf("不支持的日期前缀 %q (eq, ge, le, gt, lt)", prefix), NotSupported: true}
	}
	return nil
}

// dateRange is the instant range [lo, hi) a FHIR date or dateTime means.
func dateRange(v string) (lo, hi time.Time, err error) {
	for _, f := range []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
	} {
		if len(v) == len(f.layout) {
			t, err := time.ParseInLocation(f.layout, v, china)
			if err != nil {
				return lo, hi, err
			}
			return t.UTC(), f.next(t).UTC(), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		t, err := time.ParseInLocation(layout, v, china)
		if err == nil {
			return t.UTC(), t.Add(time.Second).UTC(), nil
		}
	}
	return lo, hi, fmt.Errorf("bad date %q", v)
}
