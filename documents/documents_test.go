package documents_test

import (
	"os"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/documents"
	"github.com/zhiliao/zhiliao/internal/testcda"
	"github.com/zhiliao/zhiliao/internal/testcore"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testcore.Cleanup()
	os.Exit(code)
}

// TestPilotDocuments: every signed record and consent of the pilot preset
// becomes a registered document, every one valid against the normative
// CDA R2 schema (xmllint, an independent validator); a second round makes
// none; failures, if any, name a field.
func TestPilotDocuments(t *testing.T) {
	db := testcore.Pilot(t)
	ctx := t.Context()
	var records, consents int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM treatment_record WHERE signed_at IS NOT NULL").Scan(&records); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM consent WHERE signed_at IS NOT NULL").Scan(&consents); err != nil {
		t.Fatal(err)
	}
	gen := &documents.Generator{Core: db, Now: func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }}
	res, err := gen.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pilot: %d signed records, %d signed consents: %+v", records, consents, res)
	if records == 0 || consents == 0 || res.Registered+res.Failed != records+consents || res.Failed != 0 {
		t.Fatalf("%d records and %d consents gave %+v", records, consents, res)
	}
	if again, err := gen.RunOnce(ctx); err != nil || again.Registered+again.Failed != 0 {
		t.Fatalf("second round: %+v %v", again, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT content FROM document ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for rows.Next() {
		var content []byte
		if err := rows.Scan(&content); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, content)
	}
	rows.Close()
	if len(docs) != res.Registered {
		t.Fatalf("%d documents kept, %d registered", len(docs), res.Registered)
	}
	testcda.Validate(t, docs...)
}
