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
	for _, bad := range []string{"?limit=0", "?limit=x", "?limit=5000", "?since=1"} {
		code, body := f.do(f.tokens[model.RoleAdmin], "GET", "/api/v1/etl/runs"+bad, nil)
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"code":"invalid"`) {
			t.Errorf("runs%s: %d %s", bad, code, body)
		}
	}
}
