package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/vault"
	"github.com/zhiliao/zhiliao/warehouse"
)

// TestWarehouseHoldsNoIdentity: a hospital generated and shipped as the
// quick start does it (the master key made in the data folder) leaves no
// clear phone or ID number in any table of the warehouse, and only masked
// patient names; the core reads them back in clear with its key.
func TestWarehouseHoldsNoIdentity(t *testing.T) {
	data := pilotData(t)
	if code, _, stderr := run(t, "relay", "--once", "--data", data, "--log-level", "error"); code != 0 {
		t.Fatalf("relay: %s", stderr)
	}
	if code, _, stderr := run(t, "etl", "run", "--full", "--data", data, "--log-level", "error"); code != 0 {
		t.Fatalf("etl: %s", stderr)
	}
	ctx := context.Background()
	m, err := vault.LoadMaster(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	core, err := store.Open(ctx, filepath.Join(data, "core.db"), store.Options{Master: m, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := core.QueryContext(ctx, "SELECT institution_id, mrn FROM patient")
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for rows.Next() {
		var inst int64
		var mrn string
		rows.Scan(&inst, &mrn)
		p, err := core.PatientByMRN(ctx, inst, mrn)
		if err != nil {
			t.Fatal(err)
		}
		if p.Phone == "" || p.IDNumber == "" || len(p.IDNumber) != 18 {
			t.Fatalf("patient %s read back %q %q", mrn, p.Phone, p.IDNumber)
		}
		secrets = append(secrets, p.Phone, p.IDNumber)
	}
	rows.Close()
	core.Close()
	if len(secrets) < 100 {
		t.Fatalf("only %d values to look for", len(secrets))
	}
	for _, f := range []string{"core.db", "core.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(data, f))
		for _, s := range secrets[:40] {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds %s in clear", f, s)
			}
		}
	}

	c := common{data: data, logLevel: "error"}
	var w whFlags
	wh, err := w.open(ctx, &c)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	tables := queryStrings(t, wh, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name")
	if len(tables) < 10 {
		t.Fatalf("tables %v", tables)
	}
	var cells strings.Builder
	for _, table := range tables {
		for _, row := range queryRows(t, wh, "SELECT * FROM "+table) {
			cells.WriteString(strings.Join(row, "\x1f"))
			cells.WriteByte('\n')
		}
	}
	all := cells.String()
	if !strings.Contains(all, "138") && !strings.Contains(all, "****") {
		t.Fatal("the warehouse holds no masked phone: the scan read nothing")
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the warehouse holds %s in clear", s)
		}
	}
	names := queryStrings(t, wh, "SELECT name FROM cur_patient")
	if len(names) != len(secrets)/2 {
		t.Fatalf("the warehouse holds %d patients, the core %d", len(names), len(secrets)/2)
	}
	for _, name := range names {
		if !strings.Contains(name, "*") {
			t.Errorf("the warehouse holds the patient name %q unmasked", name)
		}
	}
	// A workbook says so on its 说明 sheet.
	wb := filepath.Join(t.TempDir(), "m.xlsx")
	wh.Close()
	if code, _, stderr := run(t, "export", "dept-monthly", "--from", "2026-09-01", "--to", "2026-09-30", "--out", wb, "--data", data, "--log-level", "error"); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	f, err := excelize.OpenFile(wb)
	if err != nil {
		t.Fatal(err)
	}
	sheet, _ := f.GetRows("说明")
	f.Close()
	var notes strings.Builder
	for _, r := range sheet {
		notes.WriteString(strings.Join(r, " ") + "\n")
	}
	if !strings.Contains(notes.String(), "患者姓名均为掩码") {
		t.Errorf("the 说明 sheet does not state the names policy:\n%s", notes.String())
	}
	if wh, err = w.open(ctx, &c); err != nil {
		t.Fatal(err)
	}
	// The pseudonym stands in for the person: one per patient, none empty.
	if got := queryStrings(t, wh, "SELECT CAST(count(DISTINCT pseudonym) AS VARCHAR) FROM cur_patient WHERE pseudonym LIKE 'P%'"); got[0] != fmt.Sprint(len(names)) {
		t.Errorf("%s distinct pseudonyms for %d patients", got[0], len(names))
	}
}

// queryRows reads a warehouse query's rows, every cell as text.
func queryRows(t *testing.T, wh warehouse.Warehouse, query string) [][]string {
	t.Helper()
	rr, err := wh.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rr.Release()
	var out [][]string
	for rr.Next() {
		rec := rr.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, rec.NumCols())
			for j := range row {
				row[j] = rec.Column(j).ValueStr(i)
			}
			out = append(out, row)
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

func queryStrings(t *testing.T, wh warehouse.Warehouse, query string) []string {
	var out []string
	for _, r := range queryRows(t, wh, query) {
		out = append(out, r[0])
	}
	return out
}

// TestKeysCommands: the master key is rotated without rewriting a row (the
// old file no longer opens the core, the new one does); records verify
// finds every generated signature valid, and an edited record; audit
// verify and export prove the chain.
func TestKeysCommands(t *testing.T) {
	data := pilotData(t)
	next := filepath.Join(t.TempDir(), "next.key")
	if code, _, stderr := run(t, "keys", "rotate", "--data", data); code != 2 || !strings.Contains(stderr, "--new-key-file") {
		t.Errorf("rotate without a new key: %d %s", code, stderr)
	}
	if code, out, stderr := run(t, "keys", "init", "--key-file", next); code != 0 || !strings.Contains(out, "fingerprint") {
		t.Fatalf("init: %s %s", out, stderr)
	}
	if code, _, stderr := run(t, "keys", "init", "--key-file", next); code != 1 || !strings.Contains(stderr, "never overwritten") {
		t.Errorf("init over an existing key: %d %s", code, stderr)
	}
	sealedRows := func() string {
		core, err := sql.Open("sqlite", filepath.Join(data, "core.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer core.Close()
		var all string
		if err := core.QueryRow("SELECT group_concat(phone || id_number, ',') FROM (SELECT phone, id_number FROM patient ORDER BY id)").Scan(&all); err != nil {
			t.Fatal(err)
		}
		return all
	}
	before := sealedRows()
	if code, out, stderr := run(t, "keys", "rotate", "--new-key-file", next, "--data", data, "--log-level", "error"); code != 0 || !strings.Contains(out, "re-wrapped") {
		t.Fatalf("rotate: %d %s %s", code, out, stderr)
	}
	if after := sealedRows(); after != before || !strings.HasPrefix(after, "sm4:d1:") {
		t.Error("the rotation rewrote the sealed rows")
	}
	if code, _, stderr := run(t, "records", "verify", "--data", data, "--log-level", "error"); code != 1 || !strings.Contains(stderr, "主密钥不符") {
		t.Errorf("the old key after rotation: %d %s", code, stderr)
	}
	code, out, stderr := run(t, "records", "verify", "--data", data, "--key-file", next, "--log-level", "error")
	if code != 0 || !strings.Contains(out, "签名后被修改 0") || strings.Contains(out, "有效 0，") {
		t.Fatalf("records verify: %d %s %s", code, out, stderr)
	}
	code, out, stderr = run(t, "audit", "verify", "--data", data, "--key-file", next, "--log-level", "error")
	if code != 0 || !strings.Contains(out, "核验通过") {
		t.Fatalf("audit verify: %d %s %s", code, out, stderr)
	}
	csvPath := filepath.Join(t.TempDir(), "audit.csv")
	code, out, stderr = run(t, "audit", "export", "--out", csvPath, "--data", data, "--key-file", next, "--log-level", "error")
	proof, _ := os.ReadFile(csvPath + ".proof.json")
	lines, _ := os.ReadFile(csvPath)
	if code != 0 || !strings.Contains(string(proof), `"service_public_key"`) || strings.Count(string(lines), "\n") < 2 {
		t.Fatalf("audit export: %d %s %s\n%s", code, out, stderr, proof)
	}

	// A record edited in the file is named by records verify, which fails.
	core, err := sql.Open("sqlite", filepath.Join(data, "core.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.Exec("UPDATE treatment_record SET content = content || ' ' WHERE id = (SELECT min(id) FROM treatment_record WHERE signatures > 0)"); err != nil {
		t.Fatal(err)
	}
	core.Close()
	code, out, _ = run(t, "records", "verify", "--data", data, "--key-file", next, "--log-level", "error")
	if code != 1 || !strings.Contains(out, "签名后被修改 1") || !strings.Contains(out, "altered after signing") {
		t.Errorf("records verify after an edit: %d %s", code, out)
	}
}

// dataMaster is the master key gen or serve --demo made in a data folder.
func dataMaster(t *testing.T, data string) *vault.Master {
	t.Helper()
	m, err := vault.LoadMaster(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var (
	pilotOnce sync.Once
	pilotDir  string
	pilotErr  string
)

// pilotData is a data folder holding the pilot as `zhiliao gen --preset
// pilot` makes it (core.db, the master key it creates and says so, files/):
// generated once per test binary and copied for each test, since under the
// race detector one generation takes about a minute.
func pilotData(t *testing.T) string {
	t.Helper()
	pilotOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zhiliao-cmd-pilot-")
		if err != nil {
			pilotErr = err.Error()
			return
		}
		pilotDir = filepath.Join(dir, "data")
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), []string{"gen", "--preset", "pilot", "--data", pilotDir, "--log-level", "error"}, &stdout, &stderr)
		if code != 0 || !strings.Contains(stderr.String(), "已创建主密钥") {
			pilotErr = fmt.Sprintf("gen: %d %s", code, stderr.String())
		}
	})
	if pilotErr != "" {
		t.Fatal(pilotErr)
	}
	data := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(data, os.DirFS(pilotDir)); err != nil {
		t.Fatal(err)
	}
	return data
}
