package fhir_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/interop/fhir"
)

func procedure() fhir.Kind { return *fhir.KindOf("Procedure") }

// TestDatePrefixes: each prefix at each precision is the range the FHIR
// specification gives it, in China time.
func TestDatePrefixes(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	at := func(y, m, d int) time.Time { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, cst).UTC() }
	for _, c := range []struct {
		q        string
		from, to *time.Time
	}{
		{"date=2026-09-07", ptr(at(2026, 9, 7)), ptr(at(2026, 9, 8))},
		{"date=eq2026-09", ptr(at(2026, 9, 1)), ptr(at(2026, 10, 1))},
		{"date=ge2026-09-07", ptr(at(2026, 9, 7)), nil},
		{"date=gt2026-09-07", ptr(at(2026, 9, 8)), nil},
		{"date=le2026", nil, ptr(at(2027, 1, 1))},
		{"date=lt2026-09-07", nil, ptr(at(2026, 9, 7))},
		{"date=ge2026-09-01&date=lt2026-10-01", ptr(at(2026, 9, 1)), ptr(at(2026, 10, 1))},
		{"date=ge2026-09-07T10:30:00%2B08:00", ptr(time.Date(2026, 9, 7, 2, 30, 0, 0, time.UTC)), nil},
	} {
		q, _ := url.ParseQuery(c.q)
		s, err := fhir.ParseSearch(procedure(), q, false)
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		if !same(s.From, c.from) || !same(s.To, c.to) {
			t.Errorf("%s: [%v, %v), want [%v, %v)", c.q, s.From, s.To, c.from, c.to)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func same(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }

// TestParseSearchRefusals: what is refused names the parameter; lenient
// handling drops unknown parameters only.
func TestParseSearchRefusals(t *testing.T) {
	for q, param := range map[string]string{"date=yesterday": "date", "_count=501": "_count", "_count=x": "_count", "foo=1": "foo",
		"patient=Practitioner/1": "patient", "_sort=name": "_sort", "_include=Procedure:subject": "_include", "status=": "status",
		"date=ne2026-01-01": "date", "patient=1&patient=2": "patient", "_id=-3": "_id", "identifier=|": "identifier"} {
		v, _ := url.ParseQuery(q)
		_, err := fhir.ParseSearch(procedure(), v, false)
		se, ok := err.(*fhir.Error)
		if !ok || se.Param != param || se.Message == "" {
			t.Errorf("%s: %v", q, err)
		}
	}
	v, _ := url.ParseQuery("foo=1&patient=7")
	s, err := fhir.ParseSearch(procedure(), v, true)
	if err != nil || s.Patient != "7" {
		t.Errorf("lenient: %+v %v", s, err)
	}
	v, _ = url.ParseQuery("date=yesterday")
	if _, err := fhir.ParseSearch(procedure(), v, true); err == nil {
		t.Error("lenient handling accepted a bad value of a known parameter")
	}
}

// FuzzParseSearch: any query is parsed or refused naming a parameter,
// never a panic; what is parsed is within bounds.
func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{"patient=1&date=ge2026-09-01&_count=10&_sort=-date&_include=Procedure:patient&status=completed",
		"date=2026", "date=lt2026-09-07T10:30:00Z", "identifier=urn:oid:1.2|x", "_offset=5", "%zz", "date=eq"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, lenient bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, k := range fhir.Kinds {
			s, err := fhir.ParseSearch(k, q, lenient)
			if err != nil {
				if se, ok := err.(*fhir.Error); !ok || se.Param == "" {
					t.Fatalf("%q: %v", raw, err)
				}
				continue
			}
			if s.Count < 0 || s.Count > fhir.MaxCount || s.Offset < 0 || (s.Include && len(k.Includes) == 0) {
				t.Fatalf("%q read as %+v", raw, s)
			}
		}
	})
}
