package policy_test

import (
	"net/url"
	"testing"

	"github.com/zhiliao/zhiliao/policy"
)

// TestReadLine: the same read at two doors writes the same line, whatever
// order its filters came in; the rows returned and a download of every row
// are on it.
func TestReadLine(t *testing.T) {
	a := policy.ReadLine(policy.Read{Route: "GET /x", Entity: "mart", ID: "workload", Filters: url.Values{"to": {"2026-09-30"}, "from": {"2026-09-01"}}, Rows: 12})
	b := policy.ReadLine(policy.Read{Route: "GET /x", Entity: "mart", ID: "workload", Filters: url.Values{"from": {"2026-09-01"}, "to": {"2026-09-30"}}, Rows: 12})
	if a != b || a.Detail != "from=2026-09-01&to=2026-09-30 rows=12" || a.Action != policy.AuditRead || a.Status != 200 {
		t.Errorf("%+v / %+v", a, b)
	}
	all := policy.ReadLine(policy.Read{Route: "GET /x", Entity: "mart", Rows: 3, All: true})
	one := policy.ReadLine(policy.Read{Route: "GET /fhir/r4/Patient/1", Entity: "Patient", ID: "1", Rows: -1})
	if all.Detail != "rows=3 all=true" || one.Detail != "" {
		t.Errorf("%q %q", all.Detail, one.Detail)
	}
}
