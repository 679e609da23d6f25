package policy

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/zhiliao/zhiliao/model"
)

// The kinds of audit line.
const (
	AuditWrite   = "write"      // a change, committed in the change's own transaction
	AuditRead    = "read_pii"   // a read of patient data, committed before the data goes out
	AuditReadLog = "read_audit" // a read of the audit log itself
)

// Read is a read of patient data at any door (the API, a page, an export,
// FHIR, Flight SQL), as its audit line records it. Who reads is the
// context's actor, which the store writes beside the line.
type Read struct {
	Route   string     // the door and what was asked: "GET /api/v1/marts/{mart}/detail"
	Entity  string     // what kind of rows: "mart", "patient", "Procedure"…
	ID      string     // which one, when one
	Filters url.Values // the filters as asked
	Rows    int64      // how many rows went out (-1: not counted, one object)
	All     bool       // a download of every row, not a page
}

// ReadLine is the audit line of a read: the filters in a stable order and
// the rows returned, so that two doors serving the same read write the same
// line, and an auditor can tell what left and how much.
func ReadLine(r Read) model.AuditEntry {
	var d strings.Builder
	d.WriteString(r.Filters.Encode()) // Encode sorts by key
	if r.Rows >= 0 {
		fmt.Fprintf(&d, " rows=%d", r.Rows)
	}
	if r.All {
		d.WriteString(" all=true")
	}
	return model.AuditEntry{Action: AuditRead, Route: r.Route, Entity: r.Entity, EntityID: r.ID,
		Status: 200, Detail: strings.TrimSpace(d.String())}
}
