package store

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/vault"
)

// Record signatures (issue 15). Signing a record signs the SM3 digest of its
// canonical content (record, session, patient, content), its signer and its
// time, with the signer's own SM2 key, held by the service wrapped by the
// master key (vault.Signer leaves room for an external CA). The signature
// goes to record_signature, append-only, one row per signing: a record
// amended and signed again keeps the earlier signatures.

// recordDigest is what a record's signature covers.
func recordDigest(r *model.Record) []byte {
	var signer int64
	var at string
	if r.SignerID != nil {
		signer = *r.SignerID
	}
	if r.SignedAt != nil {
		at = formatTime(*r.SignedAt)
	}
	return vault.Digest("zhiliao record v1", strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.SessionID, 10),
		strconv.FormatInt(r.PatientID, 10), r.Content, strconv.FormatInt(signer, 10), at, strconv.FormatInt(r.Signatures, 10))
}

// signRecord stores the SM2 signature of a record's digest by its signer.
// A core without keys signs with the digest alone (SignHash), as before.
func (tx *Tx) signRecord(r *model.Record, digest []byte) error {
	if tx.db.master == nil && tx.db.Signers == nil {
		return nil
	}
	owner := "staff:" + strconv.FormatInt(*r.SignerID, 10)
	signer, keyOwner, err := tx.signerFor(owner)
	if err != nil {
		return fmt.Errorf("signing key of %s: %w", owner, err)
	}
	sig, err := signer.Sign(digest)
	if err != nil {
		return err
	}
	_, err = tx.exec("INSERT INTO record_signature (record_id, n, signer_id, signed_at, digest, signature, key_owner) VALUES (?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.Signatures, *r.SignerID, formatTime(*r.SignedAt), hex.EncodeToString(digest), sig, keyOwner)
	return err
}

// Signers gives the signer of a person ("staff:12"): the interface a
// hospital CA's certificate-backed signer implements (GM/T 0015), so that
// it plugs in without touching the store.
type Signers interface {
	Signer(ctx context.Context, owner string) (vault.Signer, error)
}

// externalMaster marks a signing key whose private half is not the core's
// (a CA's signer): only its public key is kept, to verify.
const externalMaster = "external"

// signerFor is the signer of owner and the name its public key is kept
// under for verification: the core's own key (owner itself), or the
// given Signers' key, kept once per key as ext:<owner>:<fingerprint> so a
// signature made before the CA renewed the key still verifies.
func (tx *Tx) signerFor(owner string) (vault.Signer, string, error) {
	if tx.db.Signers == nil {
		s, err := tx.db.signerOf(tx, owner)
		return s, owner, err
	}
	s, err := tx.db.Signers.Signer(tx.ctx, owner)
	if err != nil {
		return nil, "", err
	}
	pub := s.PublicKey()
	sum := sha256.Sum256(pub)
	keyOwner := "ext:" + owner + ":" + hex.EncodeToString(sum[:8])
	_, err = tx.exec("INSERT INTO signing_key (owner, public_key, wrapped, master, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner) DO NOTHING",
		keyOwner, pub, []byte{}, externalMaster, formatTime(tx.now))
	return s, keyOwner, err
}

// Signature states of a record, as the archive shows them.
const (
	SignatureValid    = "valid"    // SM2 signature verifies and the record is as signed
	SignatureAltered  = "altered"  // the record changed after it was signed
	SignatureInvalid  = "invalid"  // the signature does not verify under the signer's key
	SignatureMissing  = "missing"  // signed, but no SM2 signature (signed on a core without keys)
	SignatureUnsigned = "unsigned" // a draft
)

// signatureRow is a record's latest signature.
type signatureRow struct {
	digest string
	sig    []byte
	owner  string
}

// checkRecord says which signature state a record is in.
func checkRecord(r *model.Record, s *signatureRow, keys map[string]*ecdsa.PublicKey) string {
	if r.Signatures == 0 || r.SignerID == nil {
		return SignatureUnsigned
	}
	digest := recordDigest(r)
	if s == nil {
		if r.SignHash == hex.EncodeToString(digest) {
			return SignatureMissing
		}
		return SignatureAltered
	}
	if hex.EncodeToString(digest) != s.digest || r.SignHash != s.digest {
		return SignatureAltered
	}
	pub := keys[s.owner]
	if pub == nil || !vault.Verify(pub, digest, s.sig) {
		return SignatureInvalid
	}
	return SignatureValid
}

// latestSignatures reads the signature of each record at its current signing.
func (db *DB) latestSignatures(ctx context.Context, recs []*model.Record) (map[int64]*signatureRow, error) {
	out := map[int64]*signatureRow{}
	if len(recs) == 0 {
		return out, nil
	}
	ids := make([]int64, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	rows, err := db.q(ctx).QueryContext(ctx, "SELECT s.record_id, s.digest, s.signature, s.key_owner FROM record_signature s JOIN treatment_record r ON r.id = s.record_id AND r.signatures = s.n WHERE s.record_id IN "+inList(ids), anys(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		s := &signatureRow{}
		if err := rows.Scan(&id, &s.digest, &s.sig, &s.owner); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

// RecordSignatures says, for each record, whether its signature holds
// (the archive page shows it).
func (db *DB) RecordSignatures(ctx context.Context, recs []*model.Record) (map[int64]string, error) {
	sigs, err := db.latestSignatures(ctx, recs)
	if err != nil {
		return nil, err
	}
	keys, err := db.publicKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(recs))
	for _, r := range recs {
		out[r.ID] = checkRecord(r, sigs[r.ID], keys)
	}
	return out, nil
}

// RecordReport is what VerifyRecords found.
type RecordReport struct {
	Checked  int64
	ByState  map[string]int64
	Problems []string // altered or invalid records, one line each
}

// VerifyRecords checks every signed record whose signing time falls in
// [from, to) (zero: unbounded) against the stored public keys, offline,
// writing progress to w. One query streams each record with its current
// signature; SM2 verification, the cost, runs on every core meanwhile.
func (db *DB) VerifyRecords(ctx context.Context, from, to time.Time, w io.Writer) (*RecordReport, error) {
	keys, err := db.publicKeys(ctx)
	if err != nil {
		return nil, err
	}
	query := `SELECT r.id, r.session_id, r.patient_id, r.content, r.signer_id, r.signed_at, r.signatures, r.sign_hash, s.digest, s.signature, s.key_owner
FROM treatment_record r LEFT JOIN record_signature s ON s.record_id = r.id AND s.n = r.signatures
WHERE r.signatures > 0`
	var args []any
	if !from.IsZero() {
		query += " AND r.signed_at >= ?"
		args = append(args, formatTime(from))
	}
	if !to.IsZero() {
		query += " AND r.signed_at < ?"
		args = append(args, formatTime(to))
	}
	rows, err := db.r.QueryContext(ctx, db.sqlText(query+" ORDER BY r.id"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	type item struct {
		rec   model.Record
		sig   *signatureRow
		state string
	}
	const batch = 512
	todo := make(chan []item, 4)
	done := make(chan []item, 4)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				for i := range b {
					b[i].state = checkRecord(&b[i].rec, b[i].sig, keys)
				}
				done <- b
			}
		}()
	}
	rep := &RecordReport{ByState: map[string]int64{}}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for b := range done {
			for i := range b {
				r := &b[i].rec
				rep.Checked++
				rep.ByState[b[i].state]++
				if st := b[i].state; (st == SignatureAltered || st == SignatureInvalid) && len(rep.Problems) < 1000 {
					label := map[string]string{SignatureAltered: "签名后被修改 (altered after signing)", SignatureInvalid: "签名无效 (signature invalid)"}[st]
					rep.Problems = append(rep.Problems, fmt.Sprintf("治疗记录 %d（会话 %d，签名人 %d）：%s", r.ID, r.SessionID, *r.SignerID, label))
				}
			}
			if w != nil && rep.Checked%(50*batch) < int64(len(b)) {
				fmt.Fprintf(w, "核验 verified %d records\n", rep.Checked)
			}
		}
	}()
	var scanErr error
	cur := make([]item, 0, batch)
	for rows.Next() {
		var it item
		var signer sql.NullInt64
		var signedAt, digest, owner sql.NullString
		var sig []byte
		if scanErr = rows.Scan(&it.rec.ID, &it.rec.SessionID, &it.rec.PatientID, &it.rec.Content, &signer, &signedAt, &it.rec.Signatures, &it.rec.SignHash,
			&digest, &sig, &owner); scanErr != nil {
			break
		}
		if signer.Valid {
			it.rec.SignerID = &signer.Int64
		}
		if signedAt.Valid {
			t, err := parseTime(signedAt.String)
			if err != nil {
				scanErr = fmt.Errorf("record %d: signed_at: %w", it.rec.ID, err)
				break
			}
			it.rec.SignedAt = &t
		}
		if digest.Valid {
			it.sig = &signatureRow{digest: digest.String, sig: sig, owner: owner.String}
		}
		cur = append(cur, it)
		if len(cur) == batch {
			todo <- cur
			cur = make([]item, 0, batch)
		}
	}
	if len(cur) > 0 && scanErr == nil {
		todo <- cur
	}
	close(todo)
	wg.Wait()
	close(done)
	<-collected
	if scanErr == nil {
		scanErr = rows.Err()
	}
	if w != nil {
		fmt.Fprintf(w, "核验 verified %d records\n", rep.Checked)
	}
	return rep, scanErr
}
