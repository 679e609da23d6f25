package testcore

import (
	"context"
	"testing"

	"github.com/zhiliao/zhiliao/store"
)

// RatingScope puts every project of the core in the EMR rating's scope
// (through the store, as the quality office would), keeping its
// smart-service scope: the pilot's laser centre is outside the EMR scope by
// default, and evidence tests need both ratings' rows.
func RatingScope(tb testing.TB, db *store.DB) {
	tb.Helper()
	rows, err := db.QueryContext(context.Background(), "SELECT id, smart_scope FROM project")
	if err != nil {
		tb.Fatal(err)
	}
	type p struct {
		id    int64
		smart bool
	}
	var ps []p
	for rows.Next() {
		var x p
		if err := rows.Scan(&x.id, &x.smart); err != nil {
			tb.Fatal(err)
		}
		ps = append(ps, x)
	}
	rows.Close()
	for _, x := range ps {
		if _, err := db.SetProjectScope(context.Background(), x.id, true, x.smart); err != nil {
			tb.Fatal(err)
		}
	}
}
