package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/vault"
)

const (
	testIDNumber = "11010519491231002X"
	testPhone    = "13912345678"
)

func newMaster(t *testing.T) (*vault.Master, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := vault.CreateMasterFile(path); err != nil {
		t.Fatal(err)
	}
	m, err := vault.LoadMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	return m, path
}

// identified sends an order for a patient with a phone and an ID number.
func (e *env) identified(mrn, phone, id string) *model.Patient {
	e.t.Helper()
	e.n++
	_, err := e.db.ReceiveOrder(e.ctx, model.OrderMessage{InstitutionID: e.inst.ID, MessageID: "V" + mrn, Action: model.HISNew,
		OrderNo: "OV" + mrn, PatientMRN: mrn, PatientName: "王小明", Gender: "M", Phone: phone, IDNumber: id,
		ProjectCode: e.plain.Code, Quantity: 1, VisitType: model.VisitOutpatient, DiagnosisCode: "M54.5", DiagnosisName: "腰痛",
		OrderedAt: e.clock.Now(), Paid: true})
	e.must(err)
	p, err := e.db.PatientByMRN(e.ctx, e.inst.ID, mrn)
	e.must(err)
	return p
}

// testSealedFields: on a core opened with a master key, the phone and the
// ID number are nowhere in the database file in clear, read back in clear
// through the services, are found by the blind index, and reach the outbox
// only masked, with a pseudonym; the name reaches it masked.
func testSealedFields(t *testing.T) {
	sqliteOnly(t, "reads the database file's bytes")
	m, _ := newMaster(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "core.db")
	db := openSealed(t, path, m)
	e := envOf(t, db)
	p := e.identified("M1", testPhone, testIDNumber)
	if p.Phone != testPhone || p.IDNumber != testIDNumber {
		t.Fatalf("read back %q %q", p.Phone, p.IDNumber)
	}
	for field, value := range map[string]string{"phone": testPhone, "id_number": strings.ToLower(testIDNumber)} {
		found, err := db.FindPatients(model.WithActor(e.ctx, model.Actor{Role: model.RoleFrontDesk, InstitutionID: e.inst.ID}), field, value)
		if err != nil || len(found) != 1 || found[0].ID != p.ID {
			t.Errorf("find by %s: %v %v", field, found, err)
		}
	}
	if _, err := db.FindPatients(e.ctx, "name", "王小明"); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("find by name: %v", err)
	}
	events, err := db.ReadOutbox(e.ctx, 0, 1000, nil)
	e.must(err)
	var sawPatient bool
	for _, ev := range events {
		if bytes.Contains(ev.Payload, []byte(testPhone)) || bytes.Contains(ev.Payload, []byte(testIDNumber)) || bytes.Contains(ev.Payload, []byte("王小明")) {
			t.Errorf("outbox %s %d carries identity: %s", ev.Entity, ev.EntityID, ev.Payload)
		}
		if ev.Entity == "patient" {
			sawPatient = true
			var got map[string]any
			json.Unmarshal(ev.Payload, &got)
			if got["phone"] != model.MaskPhone(testPhone) || got["id_number"] != model.MaskIDNumber(testIDNumber) || got["name"] != "王*明" ||
				!strings.HasPrefix(got["pseudonym"].(string), "P") {
				t.Errorf("patient payload %s", ev.Payload)
			}
		}
	}
	if !sawPatient {
		t.Fatal("no patient event")
	}
	// An HL7 message the intake refused keeps the PID segment: sealed too.
	hl7 := "MSH|^~\\&|HIS||ZL||20260301||ORM^O01|X1|P|2.5\rPID|1||M9||王小明||19491231|M|||||" + testPhone + "||||||" + testIDNumber
	e.must(db.AddDeadLetter(e.ctx, e.inst.ID, "X1", []byte(hl7), "AE", "test"))
	dls, err := db.PendingDeadLetters(e.ctx, 10)
	if err != nil || len(dls) != 1 || string(dls[0].Raw) != hl7 {
		t.Fatalf("dead letter read back: %v %v", dls, err)
	}
	db.Close()
	for _, f := range []string{"core.db", "core.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if bytes.Contains(b, []byte(testPhone)) || bytes.Contains(b, []byte(testIDNumber)) {
			t.Errorf("%s holds the phone or the ID number in clear", f)
		}
	}

	// Reopened: without the key it refuses, before anything is written; a
	// wrong key is named as such; the right one reads the same values.
	before, _ := os.ReadFile(path)
	if _, err := store.Open(context.Background(), path, store.Options{FilesDir: dir}); !errors.Is(err, store.ErrKeyRequired) {
		t.Errorf("opened without its key: %v", err)
	}
	other, _ := newMaster(t)
	if _, err := store.Open(context.Background(), path, store.Options{FilesDir: dir, Master: other}); !errors.Is(err, vault.ErrMasterKey) || !strings.Contains(err.Error(), m.Fingerprint) {
		t.Errorf("opened with another key: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a refused open wrote to the core")
	}
	if b, _ := os.ReadFile(path + "-wal"); len(b) > 0 {
		t.Errorf("a refused open left %d bytes of WAL", len(b))
	}
	db, err = store.Open(context.Background(), path, store.Options{FilesDir: dir, Master: m})
	e.must(err)
	defer db.Close()
	again, err := db.PatientByMRN(e.ctx, e.inst.ID, "M1")
	if err != nil || again.Phone != testPhone || again.IDNumber != testIDNumber {
		t.Errorf("after reopening: %+v %v", again, err)
	}
}

// testSealInPlace: a core that stored its patients in clear is sealed when
// first opened with a key, and a sealed value altered in the file reads as
// empty and is reported, without failing the read of the others.
func testSealInPlace(t *testing.T) {
	sqliteOnly(t, "edits the database file")
	dir := t.TempDir()
	path := filepath.Join(dir, "core.db")
	db, err := store.Open(context.Background(), path, store.Options{FilesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e := envOf(t, db)
	for i := range 1200 { // more than two batches
		e.identified("C"+string(rune('A'+i%26))+strings.Repeat("x", i/26), fmt.Sprintf("1391234%04d", i), testIDNumber)
	}
	db.Close()
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(testIDNumber)) {
		t.Fatal("the unkeyed core does not hold the ID number in clear: nothing to migrate")
	}

	m, _ := newMaster(t)
	db = openSealed(t, path, m)
	found, err := db.FindPatients(model.WithActor(e.ctx, model.Actor{Role: model.RoleFrontDesk, InstitutionID: e.inst.ID}), "phone", "13912340007")
	if err != nil || len(found) != 1 {
		t.Fatalf("find after sealing: %v %v", found, err)
	}
	raw, err := sql.Open("sqlite", path)
	e.must(err)
	defer raw.Close()
	var clear int
	raw.QueryRow("SELECT count(*) FROM patient WHERE id_number NOT LIKE 'sm4:%' OR phone NOT LIKE 'sm4:%'").Scan(&clear)
	if clear != 0 {
		t.Errorf("%d rows still in clear", clear)
	}
	// Alter one sealed value behind the service's back.
	var id int64
	var sealed string
	raw.QueryRow("SELECT id, phone FROM patient ORDER BY id LIMIT 1").Scan(&id, &sealed)
	bad := []byte(sealed)
	bad[len(bad)-2] ^= 1
	if bad[len(bad)-2] == sealed[len(sealed)-2] {
		t.Fatal("no change")
	}
	if _, err := raw.Exec("UPDATE patient SET phone = ? WHERE id = ?", string(bad), id); err != nil {
		t.Fatal(err)
	}
	var lines bytes.Buffer
	db.Logger = slog.New(slog.NewTextHandler(&lines, nil))
	got, err := db.PatientByMRN(e.ctx, e.inst.ID, "CA")
	if err != nil || got.Phone != "" || got.IDNumber != testIDNumber {
		t.Errorf("altered row: %+v %v", got, err)
	}
	if !strings.Contains(lines.String(), "sealed field does not open") {
		t.Errorf("not reported: %s", lines.String())
	}
	db.Close()
}

// keyedCore opens a fresh core of this run's engine with a master key, the
// hospital set up.
func keyedCore(t *testing.T) (*env, string) {
	t.Helper()
	m, _ := newMaster(t)
	path := coreLocation(t)
	db := openSealed(t, path, m)
	t.Cleanup(func() { db.Close() })
	return envOf(t, db), path
}

// signedRecords completes n sessions and signs their records.
func (e *env) signedRecords(n int) []*model.Record {
	e.t.Helper()
	c, _ := e.course(e.plain, int64(n))
	slots := e.slots(1)
	var appts []*model.Appointment
	for i := range n {
		a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[i].ID, Channel: model.ChannelKiosk})
		e.must(err)
		appts = append(appts, a)
	}
	var out []*model.Record
	for i, a := range appts {
		e.clock.Set(slots[i].StartAt)
		tk, err := e.db.CheckIn(e.ctx, a.ID)
		e.must(err)
		s, err := e.db.StartSession(e.ctx, model.StartSession{TicketID: tk.ID, PerformerID: e.staff.ID, RoomID: e.room.ID})
		e.must(err)
		_, rec, err := e.db.CompleteSession(e.ctx, model.CompleteSession{SessionID: s.ID, Units: 1, RecordContent: fmt.Sprintf(`{"note":"第%d次"}`, i+1)})
		e.must(err)
		rec, err = e.db.SignRecord(e.ctx, rec.ID, e.staff.ID)
		e.must(err)
		out = append(out, rec)
	}
	return out
}

// testRecordSignatures: a signed record carries an SM2 signature by its
// signer's key that verifies offline; a record whose content is edited in
// the database file, or whose signature is, is reported, each by its row.
func testRecordSignatures(t *testing.T) {
	e, path := keyedCore(t)
	recs := e.signedRecords(3)
	rep, err := e.db.VerifyRecords(e.ctx, time.Time{}, time.Time{}, nil)
	if err != nil || rep.Checked != 3 || rep.ByState[store.SignatureValid] != 3 || len(rep.Problems) != 0 {
		t.Fatalf("fresh: %+v %v", rep, err)
	}
	// An amendment returns the record to draft; signed again it verifies.
	_, err = e.db.AmendRecord(e.ctx, recs[2].ID, `{"note":"补充"}`)
	e.must(err)
	_, err = e.db.SignRecord(e.ctx, recs[2].ID, e.staff.ID)
	e.must(err)
	if onPostgres {
		return // the rest edits the SQLite file
	}

	raw, err := sql.Open("sqlite", path)
	e.must(err)
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE treatment_record SET content = '{"note":"篡改"}' WHERE id = ?`, recs[0].ID); err != nil {
		t.Fatal(err)
	}
	// The attacker must drop the append-only trigger to touch a signature.
	if _, err := raw.Exec(`DROP TRIGGER record_signature_no_update`); err != nil {
		t.Fatal(err)
	}
	// The last byte is changed, whatever it was: an SM2 signature is random,
	// and one in 256 already ends in 00.
	if _, err := raw.Exec(`UPDATE record_signature SET signature = substr(signature, 1, length(signature) - 1) ||
  CASE WHEN substr(signature, -1) = x'00' THEN x'01' ELSE x'00' END WHERE record_id = ?`, recs[1].ID); err != nil {
		t.Fatal(err)
	}
	rep, err = e.db.VerifyRecords(e.ctx, time.Time{}, time.Time{}, nil)
	if err != nil || rep.Checked != 3 || rep.ByState[store.SignatureAltered] != 1 || rep.ByState[store.SignatureInvalid] != 1 || rep.ByState[store.SignatureValid] != 1 {
		t.Fatalf("after tampering: %+v %v", rep, err)
	}
	if len(rep.Problems) != 2 || !strings.Contains(rep.Problems[0], fmt.Sprint(recs[0].ID)) || !strings.Contains(rep.Problems[1], fmt.Sprint(recs[1].ID)) {
		t.Errorf("problems %q", rep.Problems)
	}
	var now []*model.Record // as the archive reads them
	for _, r := range recs {
		cur, err := e.db.Record(e.ctx, r.ID)
		e.must(err)
		now = append(now, cur)
	}
	states, err := e.db.RecordSignatures(e.ctx, now)
	if err != nil || states[recs[0].ID] != store.SignatureAltered || states[recs[1].ID] != store.SignatureInvalid || states[recs[2].ID] != store.SignatureValid {
		t.Errorf("archive states %v %v", states, err)
	}
}

// testAuditChain: sealed audit lines verify; a line altered, a line
// deleted, or the chain's tail cut off, each behind the triggers' back, is
// found and named.
func testAuditChain(t *testing.T) {
	e, path := keyedCore(t)
	ctx := model.WithActor(e.ctx, model.Actor{UserID: 1, Username: "auditor", Role: model.RoleAdmin, InstitutionID: e.inst.ID})
	for i := range 30 {
		e.must(e.db.Audit(ctx, model.AuditEntry{Action: "read_pii", Route: "/api/v1/patients/1/archive", Entity: "patient", EntityID: fmt.Sprint(i), Status: 200}))
		if i%10 == 9 {
			if _, err := e.db.SealAudit(e.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep, err := e.db.VerifyAudit(e.ctx)
	if err != nil || !rep.OK() || rep.Lines != 30 || rep.Anchors != 3 || rep.Pending != 0 {
		t.Fatalf("fresh: %+v %v", rep, err)
	}
	if onPostgres {
		return // the rest edits the SQLite file
	}
	raw, err := sql.Open("sqlite", path)
	e.must(err)
	defer raw.Close()
	for _, q := range []string{"DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete", "DROP TRIGGER audit_chain_no_delete",
		"UPDATE audit_log SET status = 403 WHERE entity_id = '4'"} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	if rep, _ := e.db.VerifyAudit(e.ctx); rep.OK() || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "链第 5 行") {
		t.Errorf("altered line: %q", rep.Problems)
	}
	raw.Exec("UPDATE audit_log SET status = 200 WHERE entity_id = '4'")
	raw.Exec("DELETE FROM audit_log WHERE entity_id = '12'")
	if rep, _ := e.db.VerifyAudit(e.ctx); rep.OK() || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "已被删除") {
		t.Errorf("deleted line: %q", rep.Problems)
	}
	// Cutting the tail, lines and chain alike, leaves the last anchor
	// beyond the chain's end.
	raw.Exec("INSERT INTO audit_log (id, at, institution_id, user_id, username, role, action, route, entity, entity_id, status, request_id, remote, detail) SELECT 13, at, institution_id, user_id, username, role, action, route, entity, '12', status, request_id, remote, detail FROM audit_log WHERE id = 14")
	raw.Exec("DELETE FROM audit_pending")
	raw.Exec("DELETE FROM audit_log WHERE id > 25")
	raw.Exec("DELETE FROM audit_chain WHERE n > 25")
	rep, _ = e.db.VerifyAudit(e.ctx)
	if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "超出链尾") {
		t.Errorf("cut tail: %q", rep.Problems)
	}
}

// testReencryptChild is not a test: ReencryptSurvivesKill runs it as a
// process that re-encrypts a core and kills itself with SIGKILL as its
// third transaction commits.
func testReencryptChild(t *testing.T) {
	path := os.Getenv("ZHILIAO_REENCRYPT_CORE")
	if path == "" {
		t.Skip("helper process only")
	}
	m, err := vault.LoadMaster(os.Getenv("ZHILIAO_REENCRYPT_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	// Killed, the child cannot remove a temp dir of its own: its files go
	// beside the parent's core.
	db, err := store.Open(context.Background(), path, store.Options{Master: m, FilesDir: filepath.Join(filepath.Dir(path), "files")})
	if err != nil {
		t.Fatal(err)
	}
	commits := 0
	db.BeforeCommit = func(context.Context) error {
		if commits++; commits == 3 { // the new key, one batch, then die in the second
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
	db.Reencrypt(context.Background(), io.Discard)
	t.Fatal("survived")
}

// testReencryptSurvivesKill: re-encryption under a new data key killed with
// kill -9 midway leaves every row readable (some under the old key, some
// under the new); run again, it resumes with the same new key and ends with
// every row under it, none lost.
func testReencryptSurvivesKill(t *testing.T) {
	sqliteOnly(t, "kills a process that holds a SQLite core")
	m, keyPath := newMaster(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "core.db")
	db := openSealed(t, path, m)
	e := envOf(t, db)
	for i := range 1100 {
		e.identified(fmt.Sprintf("R%04d", i), fmt.Sprintf("1391234%04d", i), testIDNumber)
	}
	db.Close()

	cmd := exec.Command(os.Args[0], childRun("ReencryptChild"), "-test.count=1")
	cmd.Env = append(os.Environ(), "ZHILIAO_REENCRYPT_CORE="+path, "ZHILIAO_REENCRYPT_KEY="+keyPath)
	out, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed: %v\n%s", err, out)
	}
	raw, err := sql.Open("sqlite", path)
	e.must(err)
	defer raw.Close()
	keyCount := func() map[string]int {
		got := map[string]int{}
		rows, err := raw.Query("SELECT substr(phone, 1, 7) FROM patient")
		e.must(err)
		defer rows.Close()
		for rows.Next() {
			var k string
			rows.Scan(&k)
			got[k]++
		}
		return got
	}
	mid := keyCount()
	if mid["sm4:d1:"] == 0 || mid["sm4:d2:"] == 0 || mid["sm4:d1:"]+mid["sm4:d2:"] != 1100 {
		t.Fatalf("after the kill: %v (want rows under both keys)", mid)
	}
	db, err = store.Open(context.Background(), path, store.Options{FilesDir: dir, Master: m})
	e.must(err)
	defer db.Close()
	id, n, err := db.Reencrypt(e.ctx, io.Discard)
	if err != nil || id != "d2" || n != int64(mid["sm4:d1:"]) {
		t.Fatalf("resumed: %s %d %v, %d rows were left under d1", id, n, err, mid["sm4:d1:"])
	}
	if end := keyCount(); end["sm4:d2:"] != 1100 {
		t.Fatalf("after resuming: %v", end)
	}
	for _, i := range []int{0, 499, 500, 1099} {
		p, err := db.PatientByMRN(e.ctx, e.inst.ID, fmt.Sprintf("R%04d", i))
		if err != nil || p.Phone != fmt.Sprintf("1391234%04d", i) || p.IDNumber != testIDNumber {
			t.Errorf("patient %d: %+v %v", i, p, err)
		}
	}
}

// testOldPayloadsScrubbed: outbox events written before payloads were
// masked (a core upgraded in place) leave the core masked all the same.
func testOldPayloadsScrubbed(t *testing.T) {
	sqliteOnly(t, "writes old outbox rows into the SQLite file")
	m, _ := newMaster(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "core.db")
	db := openSealed(t, path, m)
	defer db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	old := []struct{ entity, payload string }{
		{"patient", `{"id":7,"institution_id":1,"version":1,"mrn":"M7","name":"王小明","phone":"` + testPhone + `","id_number":"` + testIDNumber + `"}`},
		{"record", `{"id":8,"institution_id":1,"version":1,"patient_name":"王小明","content":"{\"note\":\"a*b\"}"}`},
		{"record", `{"id":9,"institution_id":1,"version":1,"patient_name":"王\"小明","content":""}`},
	}
	for i, o := range old {
		if _, err := raw.Exec("INSERT INTO cdc_outbox (entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload) VALUES (?, ?, 'c', 1, '2026-01-01T00:00:00.000Z', ?, 1, ?)",
			o.entity, 7+i, 100+i, o.payload); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := db.ReadOutbox(context.Background(), 0, 100, nil)
	if err != nil || len(evs) != 3 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	for _, ev := range evs {
		if bytes.Contains(ev.Payload, []byte(testPhone)) || bytes.Contains(ev.Payload, []byte(testIDNumber)) || bytes.Contains(ev.Payload, []byte("小明")) {
			t.Errorf("%s %d shipped in clear: %s", ev.Entity, ev.EntityID, ev.Payload)
		}
	}
	if !bytes.Contains(evs[0].Payload, []byte(`"pseudonym":"P`)) {
		t.Errorf("old patient payload without a pseudonym: %s", evs[0].Payload)
	}
}

// testAuditChainConcurrent: lines written by 8 writers while two sealers
// run (on PostgreSQL, as two service instances would) end up chained once
// each, in one unbroken chain.
func testAuditChainConcurrent(t *testing.T) {
	e, _ := keyedCore(t)
	ctx := model.WithActor(e.ctx, model.Actor{UserID: 1, Username: "w", Role: model.RoleAdmin, InstitutionID: e.inst.ID})
	stop := make(chan struct{})
	var sealers sync.WaitGroup
	for range 2 {
		sealers.Add(1)
		go func() {
			defer sealers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.db.SealAudit(e.ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for w := range 8 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 25 {
				if err := e.db.Audit(ctx, model.AuditEntry{Action: "read_pii", Entity: "patient", EntityID: fmt.Sprintf("%d-%d", w, i), Status: 200}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	sealers.Wait()
	if _, err := e.db.SealAudit(e.ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := e.db.VerifyAudit(e.ctx)
	if err != nil || !rep.OK() || rep.Lines != 200 || rep.Pending != 0 {
		t.Fatalf("%+v %v", rep, err)
	}
}

// openSealed opens the core at path with master key m.
func openSealed(t testing.TB, path string, m *vault.Master) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path, store.Options{FilesDir: t.TempDir(), Master: m})
	if err != nil {
		t.Fatal(err)
	}
	return db
}
