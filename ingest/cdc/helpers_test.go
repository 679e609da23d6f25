package cdc_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/zhiliao/zhiliao/ingest/cdc"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(crashHelper())
	}
	if os.Getenv(pgWriterEnv) != "" {
		os.Exit(pgWriter())
	}
	code := m.Run()
	testcore.Cleanup()
	os.Exit(code)
}

// copyPilot gives a test its own copy of the pilot core file.
func copyPilot(tb testing.TB) string { return testcore.Copy(tb, testcore.PilotFile(tb)) }

func openCore(tb testing.TB, path string) *store.DB { return testcore.Open(tb, path) }

func pilotCore(tb testing.TB) *store.DB { return testcore.Pilot(tb) }

func quietRelay(core *store.DB, wh warehouse.Warehouse) *cdc.Relay {
	return &cdc.Relay{Core: core, Warehouse: wh, Logger: discard, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
}

var discard = slogDiscard()

// idVersion is one version of one row.
type idVersion struct{ ID, Version int64 }

func coreRows(tb testing.TB, core *store.DB, query string, args ...any) []idVersion {
	tb.Helper()
	rows, err := core.Reader().Query(query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []idVersion
	for rows.Next() {
		var r idVersion
		if err := rows.Scan(&r.ID, &r.Version); err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func whRows(tb testing.TB, wh warehouse.Warehouse, query string) []idVersion {
	tb.Helper()
	var out []idVersion
	for _, r := range warehousetest.Rows(tb, wh, query) {
		out = append(out, idVersion{r[0].(int64), r[1].(int64)})
	}
	return out
}

// verifyMirror checks that the warehouse holds exactly the outbox: the same
// events by seq, every version of every entity once, and as latest versions
// exactly the rows of the core. fullHistory is false after pruning, when
// older versions live only in the warehouse.
func verifyMirror(tb testing.TB, core *store.DB, wh warehouse.Warehouse, fullHistory bool) {
	tb.Helper()
	if fullHistory {
		want := coreRows(tb, core, "SELECT seq, version FROM cdc_outbox ORDER BY seq")
		got := whRows(tb, wh, "SELECT seq, version FROM (SELECT DISTINCT seq, version FROM cdc_events) ORDER BY seq")
		if !slices.Equal(got, want) {
			tb.Errorf("cdc_events: %d events, outbox %d (first difference %s)", len(got), len(want), firstDiff(got, want))
		}
	}
	for _, proto := range model.Entities() {
		ent := proto.EntityName()
		if fullHistory {
			want := coreRows(tb, core, "SELECT entity_id, version FROM cdc_outbox WHERE entity = ? ORDER BY entity_id, version", ent)
			got := whRows(tb, wh, "SELECT id, version FROM ver_"+ent+" ORDER BY id, version")
			if !slices.Equal(got, want) {
				tb.Errorf("ver_%s: %d versions, outbox %d (%s)", ent, len(got), len(want), firstDiff(got, want))
			}
		}
		want := coreRows(tb, core, "SELECT id, version FROM "+store.TableName(ent)+" ORDER BY id")
		got := whRows(tb, wh, "SELECT id, version FROM cur_"+ent+" ORDER BY id")
		if !slices.Equal(got, want) {
			tb.Errorf("cur_%s: %d rows, core %d (%s)", ent, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []idVersion) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("at %d: %v vs %v", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}

// addPatients writes n patients through the core's service: live load.
func addPatients(tb testing.TB, core *store.DB, prefix string, n int) {
	tb.Helper()
	var inst int64
	if err := core.Reader().QueryRow("SELECT min(id) FROM institution").Scan(&inst); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		p := &model.Patient{MRN: fmt.Sprintf("%s-%d", prefix, i), Name: "测试患者", Gender: "U"}
		p.InstitutionID = inst
		if err := core.CreatePatient(context.Background(), p); err != nil {
			tb.Fatal(err)
		}
	}
}

var errCrash = errors.New("simulated crash")

func outboxHead(tb testing.TB, core *store.DB) int64 {
	tb.Helper()
	h, err := core.OutboxHead(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// rawCore opens the core file with plain SQL, past the services: for
// writing what the services never would (a corrupt outbox row, a forbidden
// delete).
func rawCore(tb testing.TB, core *store.DB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+core.Path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var _ = io.Discard

type arrowRecord = arrow.Record
