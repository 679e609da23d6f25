package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/model"
)

func TestETLRunsAndFreshness(t *testing.T) {
	f := newFixture(t)
	f.course(f.plain, 2, "赵六")
	ctx := context.Background()
	if err := (&cdc.Relay{Core: f.db, Warehouse: f.wh}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.etl.Run(ctx, etl.Options{Job: "manual"}); err != nil {
		t.Fatal(err)
	}
	var runs struct {
		Items []etl.Result
		Count int
	}
	f.mustDo(f.tokens[model.RoleQualityOffice], "GET", "/api/v1/etl/runs?limit=3", nil, 200, &runs)
	if runs.Count != 3 || runs.Items[0].Status != "ok" || runs.Items[0].Watermark == 0 {
		t.Errorf("runs %+v", runs)
	}
	var fresh struct {
		Items []etl.Freshness
	}
	f.mustDo(f.tokens[model.RoleDeptManager], "GET", "/api/v1/etl/freshness", nil, 200, &fresh)
	if len(fresh.Items) != len(etl.Marts) {
		t.Fatalf("freshness %+v", fresh)
	}
	for _, fr := range fresh.Items {
		if fr.LastStatus != "ok" || fr.Behind != 0 || fr.LastSuccess.IsZero() || fr.DataAsOf.IsZero() || fr.Title == "" {
			t.Errorf("freshness of %s: %+v", fr.Mart, fr)
		}
	}
	// The live stamp the dashboards poll: the marts' watermark and when
	// that event was committed, as Freshness says; then a new change moves it.
	var live etl.Live
	f.mustDo(f.tokens[model.RoleDeptManager], "GET", "/api/v1/etl/live", nil, 200, &live)
	if live.Watermark != fresh.Items[0].Watermark || !live.DataAsOf.Equal(fresh.Items[0].DataAsOf) {
		t.Errorf("live %+v, freshness %+v", live, fresh.Items[0])
	}
	f.course(f.plain, 1, "钱七")
	if err := (&cdc.Relay{Core: f.db, Warehouse: f.wh}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.etl.Run(ctx, etl.Options{Job: "incremental"}); err != nil {
		t.Fatal(err)
	}
	var moved etl.Live
	f.mustDo(f.tokens[model.RoleDeptManager], "GET", "/api/v1/etl/live", nil, 200, &moved)
	if moved.Watermark <= live.Watermark || moved.DataAsOf.Before(live.DataAsOf) {
		t.Errorf("after a change: live %+v, before %+v", moved, live)
	}
	if code, _ := f.do(f.tokens[model.RoleFrontDesk], "GET", "/api/v1/etl/live", nil); code != http.StatusForbidden {
		t.Errorf("front desk reads the live stamp: %d", code)
	}
	for _, bad := range []string{"?limit=0", "?limit=x", "?limit=5000", "?since=1"} {
		code, body := f.do(f.tokens[model.RoleAdmin], "GET", "/api/v1/etl/runs"+bad, nil)
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"code":"invalid"`) {
			t.Errorf("runs%s: %d %s", bad, code, body)
		}
	}
}
