package documents_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/documents"
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
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xmllint is missing (Debian: libxml2-utils)")
		}
		t.Skip("xmllint not installed: apt-get install libxml2-utils")
	}
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
	rows, err := db.QueryContext(ctx, "SELECT id, content FROM document ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args := []string{"--noout", "--nonet", "--schema", "../interop/cda/schema/infrastructure/cda/CDA.xsd"}
	for rows.Next() {
		var id int64
		var content []byte
		if err := rows.Scan(&id, &content); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("%d.xml", id))
		os.WriteFile(f, content, 0o600)
		args = append(args, f)
	}
	rows.Close()
	if len(args)-4 != res.Registered {
		t.Fatalf("%d documents kept, %d registered", len(args)-4, res.Registered)
	}
	if out, err := exec.Command(xmllint, args...).CombinedOutput(); err != nil {
		t.Fatalf("not every pilot document is valid CDA R2: %v\n%.3000s", err, out)
	}
}
