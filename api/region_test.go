//go:build !race

// The regional tests relay three hospitals' cores into DuckDB, a single
// ClickHouse and the 2 × 2 cluster and build their marts: minutes under the
// race detector (294 s and 135 s measured), seconds of which are Go. .ci/run
// runs them without it, beside the crash tests; the cluster's Go code stays
// under the race detector through its contract (TestContractOnCluster).

package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/api"
	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestRegionalScope: a regional warehouse holds three hospitals. The
// region office sees each of them, compared side by side with group_by=
// institution, every figure (distinct patients too) equal to that hospital's
// own; a hospital's quality office sees only its hospital, and asking for
// another is refused. On DuckDB always, and on the 2 × 2 ClickHouse cluster
// when one is configured.
func TestRegionalScope(t *testing.T) {
	if onPostgres {
		t.Skip("the marts are the warehouse's; the core engine does not change them")
	}
	numbers := []int64{2, 5, 9}
	cores := map[int64]*store.DB{}
	for _, n := range numbers {
		cores[n] = testcore.Hospital(t, n)
	}
	// Accounts of hospital 2's service, which reads the regional warehouse.
	list, err := cores[2].Institutions(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("hospital 2: institutions %v %v", list, err)
	}
	cores[2].Policy.HashCost = bcrypt.MinCost
	for _, u := range []*model.User{
		{InstitutionID: list[0].ID, Username: "qo_h002", Role: model.RoleQualityOffice},
		{InstitutionID: list[0].ID, Username: "quyu_office", Role: model.RoleRegionOffice},
	} {
		if err := cores[2].CreateUser(context.Background(), u, "Zhiliao-Region-2026"); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []warehousetest.Engine{warehousetest.DuckDB(t), warehousetest.Cluster(t)} {
		t.Run(e.Name, func(t *testing.T) { regionalScope(t, e, numbers, cores) })
	}
}

func regionalScope(t *testing.T, e warehousetest.Engine, numbers []int64, cores map[int64]*store.DB) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	wh := e.Open(t)
	defer wh.Close()
	insts := map[int64]int64{}   // namespace → institution id
	want := map[int64][2]int64{} // namespace → sessions, patients alone
	const period = "from=2026-08-24&to=2026-11-22&grain=all"
	for _, n := range numbers {
		if err := (&cdc.Relay{Core: cores[n], Warehouse: wh, Logger: quiet}).Drain(ctx); err != nil {
			t.Fatal(err)
		}
		list, err := cores[n].Institutions(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("hospital %d: institutions %v %v", n, list, err)
		}
		insts[n] = list[0].ID
		want[n] = aloneTotals(t, cores[n])
	}
	r := &etl.Runner{Warehouse: wh, Logger: quiet}
	if _, err := r.Run(ctx, etl.Options{Full: true}); err != nil {
		t.Fatal(err)
	}
	// The service of hospital 2, reading the regional warehouse.
	core := cores[2]
	srv := api.NewServer(core, quiet)
	srv.Analytics = r
	srv.Throttle = access.NewLoginThrottle(srv.Clients, 1000, 1000)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	f := &fixture{t: t, srv: hs}
	qo, region := f.login("qo_h002", "Zhiliao-Region-2026"), f.login("quyu_office", "Zhiliao-Region-2026")

	byInstitution := func(token, extra string) map[int64][2]int64 {
		t.Helper()
		var res struct {
			Columns []struct{ Name string }
			Rows    [][]any
		}
		f.mustDo(token, "GET", "/api/v1/marts/workload?"+period+"&group_by=institution&measures=sessions,patients"+extra, nil, 200, &res)
		col := map[string]int{}
		for i, c := range res.Columns {
			col[c.Name] = i
		}
		out := map[int64][2]int64{}
		for _, row := range res.Rows {
			id := int64(row[col["institution_id"]].(float64))
			if name, _ := row[col["institution_name"]].(string); !strings.Contains(name, "医院") {
				t.Errorf("institution %d is named %q", id, name)
			}
			out[model.NamespaceOf(id)] = [2]int64{int64(row[col["sessions"]].(float64)), int64(row[col["patients"]].(float64))}
		}
		return out
	}
	got := byInstitution(region, "")
	if len(got) != len(numbers) {
		t.Errorf("the region office sees %d institutions, want %d: %v", len(got), len(numbers), got)
	}
	for _, n := range numbers {
		if got[n] != want[n] || want[n][0] == 0 {
			t.Errorf("hospital %d in the region: sessions, patients %v; alone %v", n, got[n], want[n])
		}
	}
	if only := byInstitution(region, fmt.Sprintf("&institution=%d", insts[5])); len(only) != 1 || only[5] != want[5] {
		t.Errorf("the region office filtered to hospital 5: %v", only)
	}
	own := byInstitution(qo, "")
	if len(own) != 1 || own[2] != want[2] {
		t.Errorf("hospital 2's quality office sees %v, want only its own %v", own, want[2])
	}
	code, body := f.do(qo, "GET", fmt.Sprintf("/api/v1/marts/workload?%s&institution=%d", period, insts[5]), nil)
	if code != http.StatusForbidden {
		t.Errorf("hospital 2's quality office asked for hospital 5: %d %s", code, body)
	}
	// The overview's comparison table, as the dashboards and workbooks show it.
	var table struct{ Rows [][]any }
	f.mustDo(region, "GET", "/api/v1/tables/institution-overview?from=2026-08-24&to=2026-11-22", nil, 200, &table)
	if len(table.Rows) != len(numbers) {
		t.Errorf("institution-overview for the region office: %d rows, want %d", len(table.Rows), len(numbers))
	}
	f.mustDo(qo, "GET", "/api/v1/tables/institution-overview?from=2026-08-24&to=2026-11-22", nil, 200, &table)
	if len(table.Rows) != 1 {
		t.Errorf("institution-overview for hospital 2's quality office: %d rows, want 1", len(table.Rows))
	}
	var dims struct{ Institutions, Departments []etl.Dim }
	f.mustDo(qo, "GET", "/api/v1/dimensions", nil, 200, &dims)
	if len(dims.Institutions) != 1 || dims.Institutions[0].ID != insts[2] {
		t.Errorf("hospital 2's quality office is offered institutions %+v", dims.Institutions)
	}
	for _, d := range dims.Departments {
		if d.InstitutionID != insts[2] {
			t.Errorf("hospital 2's quality office is offered department %d of institution %d", d.ID, d.InstitutionID)
		}
	}
}

// aloneTotals are a hospital's sessions and distinct patients over the
// period, from its own core alone in an embedded DuckDB.
func aloneTotals(t *testing.T, core *store.DB) [2]int64 {
	t.Helper()
	ctx := context.Background()
	wh := warehousetest.DuckDB(t).Open(t)
	defer wh.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := (&cdc.Relay{Core: core, Warehouse: wh, Logger: quiet}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	r := &etl.Runner{Warehouse: wh, Logger: quiet}
	if _, err := r.Run(ctx, etl.Options{Full: true}); err != nil {
		t.Fatal(err)
	}
	rr, err := r.Query(ctx, etl.MartByName("workload"), etl.Query{From: "2026-08-24", To: "2026-11-22", Grain: "all", Measures: []string{"sessions", "patients"}})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := warehouse.ReadAll(rr)
	if err != nil || len(rows) != 1 {
		t.Fatalf("alone: %v %v", rows, err)
	}
	return [2]int64{rows[0][0].(int64), rows[0][1].(int64)}
}
