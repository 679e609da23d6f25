package api

import (
	"net/http/httptest"
	"testing"

	"github.com/zhiliao/zhiliao/model"
)

// FuzzDocumentQuery: any query string is read into a registry query or
// refused with a field; what is read is within the bounds the store
// assumes (a known kind, days that parse, a limit of 1–500).
func FuzzDocumentQuery(f *testing.F) {
	for _, s := range []string{"patient=3&kind=consent&from=2026-09-01&to=2026-09-30&limit=20", "national_id=110101199003078515",
		"kind=x", "limit=-1", "from=2026-02-30", "patient=1&patient=2", "%zz", "to=2026-01-01&from=2026-12-31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/api/v1/documents", nil)
		r.URL.RawQuery = raw
		q, err := documentQuery(r)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("%q: %v is not a 400", raw, err)
			}
			return
		}
		if q.Kind != "" && !documentKinds[q.Kind] || q.Limit < 1 || q.Limit > 500 || q.PatientID < 0 || len(q.NationalID) > 30 {
			t.Fatalf("%q read as %+v", raw, q)
		}
		for _, d := range []string{q.From, q.To} {
			if d != "" {
				if _, err := model.ParseDay("from", d); err != nil {
					t.Fatalf("%q: day %q", raw, d)
				}
			}
		}
	})
}
