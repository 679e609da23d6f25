package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// testAuditLogDays: the audit administrator's day filter is the hospital's
// day (China time): a line written at 07:30 on 2 March in Beijing (23:30 UTC
// the day before) is read under 2 March, not 1 March.
func testAuditLogDays(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2026, 3, 2, 7, 30, 0, 0, model.Local))
	ctx := model.WithActor(context.Background(), model.Actor{UserID: 1, Username: "u", Role: model.RoleClinician, InstitutionID: e.inst.ID})
	e.must(e.db.Audit(ctx, model.AuditEntry{Action: "read_pii", Route: "GET /x", Entity: "patient", EntityID: "1", Status: 200}))
	read := func(day string) int {
		lines, err := e.db.AuditLog(context.Background(), model.AuditQuery{From: day, To: day, Action: "read_pii"})
		e.must(err)
		return len(lines)
	}
	if n1, n2 := read("2026-03-01"), read("2026-03-02"); n1 != 0 || n2 != 1 {
		t.Fatalf("lines on 1 March %d, on 2 March %d; want 0 and 1", n1, n2)
	}
}
