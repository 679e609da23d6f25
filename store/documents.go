package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
	"github.com/zhiliao/zhiliao/vault"
)

// The document registry (DESIGN.md §11, the IHE XDS idea of WS/T 447):
// register, query and retrieve every version of the shared documents made
// from signed records and consents. The documents package builds them;
// the store keeps them, signs each with the service's own SM2 key (owner
// documentKey, a detached signature over the exact bytes kept) and applies
// scope on the way out.

// documentKey is the owner of the service key that signs documents.
const documentKey = "service:documents"

// documentColumn names the sealed content: a document carries the
// patient's national ID and name, so on a core with keys it is kept sealed
// with SM4 like the patient's own columns (the digests and the signature
// are of the clear bytes, checked after opening).
const documentColumn = "document.content"

// DocumentSources lists up to limit sources signed at or after since that
// have no document and no recorded failure for their version yet, oldest
// first: a record signed the n-th time is version n of its document, a
// consent version 1.
func (db *DB) DocumentSources(ctx context.Context, since time.Time, limit int) ([]model.DocumentSource, error) {
	at := formatTime(since)
	rows, err := db.r.QueryContext(ctx, db.sqlText(`SELECT kind, source_id, version FROM (
 SELECT 'treatment_record' AS kind, r.id AS source_id, r.signatures AS version, r.signed_at AS signed_at FROM treatment_record r
  WHERE r.signed_at >= ? AND r.signatures > 0
   AND NOT EXISTS (SELECT 1 FROM document d WHERE d.kind = 'treatment_record' AND d.source_id = r.id AND d.version = r.signatures)
   AND NOT EXISTS (SELECT 1 FROM document_failure f WHERE f.kind = 'treatment_record' AND f.source_id = r.id AND f.version = r.signatures)
 UNION ALL
 SELECT 'consent', c.id, 1, c.signed_at FROM consent c
  WHERE c.signed_at >= ?
   AND NOT EXISTS (SELECT 1 FROM document d WHERE d.kind = 'consent' AND d.source_id = c.id)
   AND NOT EXISTS (SELECT 1 FROM document_failure f WHERE f.kind = 'consent' AND f.source_id = c.id)
) s ORDER BY signed_at, kind, source_id LIMIT ?`), at, at, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.DocumentSource
	for rows.Next() {
		var s model.DocumentSource
		if err := rows.Scan(&s.Kind, &s.SourceID, &s.Version); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// DocumentFacts gathers what a source's document is built from, in clear.
// A fact the core lacks is left nil: the builder names what it needs.
func (db *DB) DocumentFacts(ctx context.Context, src model.DocumentSource) (*model.DocumentFacts, error) {
	q := db.q(ctx)
	f := &model.DocumentFacts{Source: src}
	var patientID, projectID, authorID, signerID int64
	switch src.Kind {
	case model.DocTreatmentRecord:
		r, err := getRow[model.Record](ctx, q, src.SourceID)
		if err != nil {
			return nil, err
		}
		if r.SignedAt == nil || r.SignerID == nil || r.Signatures != src.Version {
			return nil, model.Conflict("document.source_changed", "治疗记录 %d 已不是第 %d 次签名的状态", r.ID, src.Version)
		}
		f.Record, f.SignedAt = r, *r.SignedAt
		patientID, projectID, authorID, signerID = r.PatientID, r.ProjectID, r.AuthorID, *r.SignerID
		if f.Session, err = getRow[model.Session](ctx, q, r.SessionID); err != nil {
			return nil, err
		}
		if f.Session.OrderID != 0 {
			if f.Order, err = getRow[model.Order](ctx, q, f.Session.OrderID); err != nil {
				return nil, err
			}
		}
	case model.DocConsent:
		c, err := getRow[model.Consent](ctx, q, src.SourceID)
		if err != nil {
			return nil, err
		}
		if c.SignedAt == nil {
			return nil, model.Conflict("document.source_changed", "知情同意书 %d 尚未签署", c.ID)
		}
		f.Consent, f.SignedAt = c, *c.SignedAt
		patientID, projectID, authorID, signerID = c.PatientID, c.ProjectID, c.WitnessID, c.WitnessID
		if c.TemplateID != 0 {
			if f.Text, err = getRow[model.ConsentTemplate](ctx, q, c.TemplateID); err != nil {
				return nil, err
			}
		}
	default:
		return nil, model.Invalid("kind", "未知的文档类型 %q", src.Kind)
	}
	var err error
	if f.Patient, err = getRow[model.Patient](ctx, q, patientID); err != nil {
		return nil, err
	}
	if f.Project, err = getRow[model.Project](ctx, q, projectID); err != nil {
		return nil, err
	}
	if f.Dept, err = getRow[model.Department](ctx, q, f.Project.DeptID); err != nil {
		return nil, err
	}
	if f.Institution, err = getRow[model.Institution](ctx, q, f.Project.InstitutionID); err != nil {
		return nil, err
	}
	staff := func(id int64) (*model.Staff, error) {
		if id == 0 {
			return nil, nil
		}
		return getRow[model.Staff](ctx, q, id)
	}
	if f.Author, err = staff(authorID); err != nil {
		return nil, err
	}
	if f.Signer, err = staff(signerID); err != nil {
		return nil, err
	}
	if src.Version > 1 {
		err := q.QueryRowContext(ctx, "SELECT doc_uid FROM document WHERE kind = ? AND source_id = ? AND version = ?",
			src.Kind, src.SourceID, src.Version-1).Scan(&f.Previous)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	return f, nil
}

// RegisterDocument keeps a built document: its digests, the service's SM2
// signature over its bytes, and the version it replaces. Registering the
// same source version again changes nothing and returns the entry kept.
func (db *DB) RegisterDocument(ctx context.Context, nd model.NewDocument) (*model.Document, error) {
	docs, err := db.RegisterDocuments(ctx, []model.NewDocument{nd})
	if err != nil {
		return nil, err
	}
	return docs[0], nil
}

// RegisterDocuments registers documents in one transaction (the
// generator's batches: a commit per document would cost more than its
// signature).
func (db *DB) RegisterDocuments(ctx context.Context, nds []model.NewDocument) ([]*model.Document, error) {
	out := make([]*model.Document, len(nds))
	for i, nd := range nds {
		f := nd.Facts
		if f == nil || f.Patient == nil || f.Project == nil {
			return nil, model.Invalid("facts", "登记文档需要其来源 (facts are required)")
		}
		sum := sha256.Sum256(nd.Content)
		out[i] = &model.Document{InstitutionID: f.Project.InstitutionID, DeptID: f.Project.DeptID, PatientID: f.Patient.ID, Kind: nd.Source.Kind,
			KindTitle: model.DocKindTitles[nd.Source.Kind], SourceID: nd.Source.SourceID, Version: nd.Source.Version, DocUID: nd.DocUID, SetUID: nd.SetUID,
			EffectiveAt: f.SignedAt.UTC(), Size: int64(len(nd.Content)), SHA256: hex.EncodeToString(sum[:]), SM3: vault.SM3Hex(nd.Content)}
	}
	// Signed before the transaction: the signatures are the CPU, and the
	// writer, which also serves the clinicians, is held only for the rows.
	sigs := make([][]byte, len(nds))
	if db.master != nil {
		s, err := db.signerOf(poolRW{ctx: ctx, db: db}, documentKey)
		if err != nil {
			return nil, fmt.Errorf("document signing key: %w", err)
		}
		for i, nd := range nds {
			if sigs[i], err = s.Sign(nd.Content); err != nil {
				return nil, err
			}
			out[i].KeyOwner = documentKey
		}
	}
	kept := make([][]byte, len(nds))
	for i, nd := range nds {
		kept[i] = nd.Content
		if k := db.keyring(); k != nil {
			kept[i] = []byte(k.Seal(documentColumn, string(nd.Content)))
		}
	}
	err := db.write(model.WithActor(ctx, model.Actor{Role: model.RoleSystem}), func(tx *Tx) error {
		for i := range nds {
			d := out[i]
			d.CreatedAt = tx.now.UTC()
			var replaces sql.NullInt64
			if d.Version > 1 {
				err := tx.queryRow("SELECT id FROM document WHERE kind = ? AND source_id = ? AND version = ?", d.Kind, d.SourceID, d.Version-1).Scan(&replaces)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			d.ReplacesID = nil
			if replaces.Valid {
				d.ReplacesID = &replaces.Int64
			}
			err := tx.queryRow(`INSERT INTO document (institution_id, dept_id, patient_id, kind, source_id, version, doc_uid, set_uid, replaces_id,
 effective_at, created_at, size, sha256, sm3, content, signature, key_owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
 ON CONFLICT (kind, source_id, version) DO NOTHING RETURNING id`,
				d.InstitutionID, d.DeptID, d.PatientID, d.Kind, d.SourceID, d.Version, d.DocUID, d.SetUID, replaces,
				formatTime(d.EffectiveAt), formatTime(d.CreatedAt), d.Size, d.SHA256, d.SM3, kept[i], sigs[i], d.KeyOwner).Scan(&d.ID)
			if errors.Is(err, sql.ErrNoRows) {
				// Registered before (another round): the entry kept stands.
				kept, err := scanDocument(tx.queryRow("SELECT "+documentCols+" FROM document d WHERE d.kind = ? AND d.source_id = ? AND d.version = ?", d.Kind, d.SourceID, d.Version))
				if err != nil {
					return err
				}
				out[i] = kept
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RecordDocumentFailure keeps why a source could not become a document
// (the field it lacks), once per source version, for the quality office.
func (db *DB) RecordDocumentFailure(ctx context.Context, src model.DocumentSource, institutionID, deptID int64, field, message string) error {
	return db.write(model.WithActor(ctx, model.Actor{Role: model.RoleSystem}), func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO document_failure (institution_id, dept_id, kind, source_id, version, field, message, created_at)
 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, source_id, version) DO NOTHING`,
			institutionID, deptID, src.Kind, src.SourceID, src.Version, field, message, formatTime(tx.now))
		return err
	})
}

// DocumentFailures lists the failures in the actor's scope, newest first.
func (db *DB) DocumentFailures(ctx context.Context, limit int) ([]model.DocumentFailure, error) {
	cond, args, err := scopeFilter(ctx, 0)
	if err != nil {
		return nil, err
	}
	rows, err := db.q(ctx).QueryContext(ctx, "SELECT id, dept_id, kind, source_id, version, field, message, created_at FROM document_failure WHERE "+cond+
		" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []model.DocumentFailure{}
	for rows.Next() {
		var x model.DocumentFailure
		var at string
		if err := rows.Scan(&x.ID, &x.DeptID, &x.Kind, &x.SourceID, &x.Version, &x.Field, &x.Message, &at); err != nil {
			return nil, err
		}
		x.CreatedAt, _ = parseTime(at)
		out = append(out, x)
	}
	return out, rows.Err()
}

const documentCols = `d.id, d.institution_id, d.dept_id, d.patient_id, d.kind, d.source_id, d.version, d.doc_uid, d.set_uid, d.replaces_id,
 (SELECT n.id FROM document n WHERE n.replaces_id = d.id), d.effective_at, d.created_at, d.size, d.sha256, d.sm3, d.key_owner`

func scanDocument(s interface{ Scan(...any) error }) (*model.Document, error) {
	d := &model.Document{}
	var replaces, replacedBy sql.NullInt64
	var eff, created string
	if err := s.Scan(&d.ID, &d.InstitutionID, &d.DeptID, &d.PatientID, &d.Kind, &d.SourceID, &d.Version, &d.DocUID, &d.SetUID, &replaces,
		&replacedBy, &eff, &created, &d.Size, &d.SHA256, &d.SM3, &d.KeyOwner); err != nil {
		return nil, err
	}
	if replaces.Valid {
		d.ReplacesID = &replaces.Int64
	}
	if replacedBy.Valid {
		d.ReplacedByID = &replacedBy.Int64
	}
	d.EffectiveAt, _ = parseTime(eff)
	d.CreatedAt, _ = parseTime(created)
	d.KindTitle = model.DocKindTitles[d.Kind]
	return d, nil
}

func (db *DB) documentRow(ctx context.Context, where string, args ...any) (*model.Document, error) {
	d, err := scanDocument(db.q(ctx).QueryRowContext(ctx, "SELECT "+documentCols+" FROM document d WHERE "+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.NotFound("文档", 0)
	}
	return d, err
}

// documentInScope refuses a document outside the actor's scope as not
// found, never forbidden: a registry does not confirm that an id exists.
func (db *DB) documentInScope(ctx context.Context, d *model.Document) error {
	a := model.ActorFrom(ctx)
	notFound := model.NotFound("文档", d.ID)
	if err := policy.CheckRow(a, policy.Row{InstitutionID: d.InstitutionID, PatientID: d.PatientID, HasPatient: true}, "文档", d.ID); err != nil {
		return notFound
	}
	if err := patientInScope(ctx, db, a, d.PatientID); err != nil {
		return notFound
	}
	return nil
}

// Documents queries the registry: a patient's documents (by id or national
// ID), of a kind, signed within days, newest first, in the actor's scope.
func (db *DB) Documents(ctx context.Context, q model.DocumentQuery) ([]*model.Document, error) {
	a := model.ActorFrom(ctx)
	if q.Limit <= 0 || q.Limit > 500 {
		q.Limit = 100
	}
	where, args := []string{"d.institution_id = ?"}, []any{a.InstitutionID}
	if q.NationalID != "" {
		cond, cargs := db.sealedMatch("id_number", "id_number", q.NationalID)
		var id int64
		err := db.q(ctx).QueryRowContext(ctx, "SELECT id FROM patient WHERE institution_id = ? AND "+cond, append([]any{a.InstitutionID}, cargs...)...).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return []*model.Document{}, nil
		} else if err != nil {
			return nil, err
		}
		if q.PatientID != 0 && q.PatientID != id {
			return []*model.Document{}, nil
		}
		q.PatientID = id
	}
	if q.PatientID != 0 {
		if err := policy.CheckRow(a, policy.Row{PatientID: q.PatientID, HasPatient: true}, "患者", q.PatientID); err != nil {
			return []*model.Document{}, nil
		}
		if err := patientInScope(ctx, db, a, q.PatientID); err != nil {
			return []*model.Document{}, nil
		}
		where, args = append(where, "d.patient_id = ?"), append(args, q.PatientID)
	} else {
		l, err := policy.ListScope(a, 0)
		if err != nil {
			return nil, err
		}
		if policy.RoleOf(a).Reach == policy.ReachSelf {
			where, args = append(where, "d.patient_id = ?"), append(args, a.PatientID)
		}
		if l.DeptID != 0 {
			where, args = append(where, "d.dept_id = ?"), append(args, l.DeptID)
		}
	}
	if q.Kind != "" {
		where, args = append(where, "d.kind = ?"), append(args, q.Kind)
	}
	if q.From != "" {
		from, err := model.ParseDay("from", q.From)
		if err != nil {
			return nil, err
		}
		where, args = append(where, "d.effective_at >= ?"), append(args, formatTime(from))
	}
	if q.To != "" {
		to, err := model.ParseDay("to", q.To)
		if err != nil {
			return nil, err
		}
		where, args = append(where, "d.effective_at < ?"), append(args, formatTime(to.AddDate(0, 0, 1)))
	}
	rows, err := db.q(ctx).QueryContext(ctx, "SELECT "+documentCols+" FROM document d WHERE "+strings.Join(where, " AND ")+
		" ORDER BY d.effective_at DESC, d.id DESC LIMIT ?", append(args, q.Limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*model.Document{}
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Document is one registry entry with its content, in the actor's scope.
func (db *DB) Document(ctx context.Context, id int64) (*model.Document, []byte, error) {
	d, err := db.documentRow(ctx, "d.id = ?", id)
	if err != nil {
		return nil, nil, model.NotFound("文档", id)
	}
	if err := db.documentInScope(ctx, d); err != nil {
		return nil, nil, err
	}
	var content []byte
	if err := db.q(ctx).QueryRowContext(ctx, "SELECT content FROM document WHERE id = ?", id).Scan(&content); err != nil {
		return nil, nil, err
	}
	if vault.IsSealed(string(content)) {
		clear, err := db.openValue(documentColumn, string(content))
		if err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", id, err)
		}
		content = []byte(clear)
	}
	return d, content, nil
}

// DocumentSignature is a document's detached SM2 signature (ASN.1) and the
// public key (PKIX DER) that checks it, in the actor's scope.
func (db *DB) DocumentSignature(ctx context.Context, id int64) (sig, publicKey []byte, err error) {
	d, _, err := db.Document(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if d.KeyOwner == "" {
		return nil, nil, model.Conflict("document.unsigned", "该文档未签名（服务未配置主密钥）")
	}
	err = db.q(ctx).QueryRowContext(ctx, "SELECT d.signature, k.public_key FROM document d JOIN signing_key k ON k.owner = d.key_owner WHERE d.id = ?", id).
		Scan(&sig, &publicKey)
	return sig, publicKey, err
}

// CheckDocument verifies a document's content against its digests and the
// service's signature, in the actor's scope.
func (db *DB) CheckDocument(ctx context.Context, id int64) (*model.DocumentCheck, error) {
	d, content, err := db.Document(ctx, id)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	if hex.EncodeToString(sum[:]) != d.SHA256 || vault.SM3Hex(content) != d.SM3 {
		return &model.DocumentCheck{Reason: "内容与登记的摘要不符 (content does not match its digests)"}, nil
	}
	if d.KeyOwner == "" {
		return &model.DocumentCheck{Reason: "未签名 (unsigned)"}, nil
	}
	sig, pubDER, err := db.DocumentSignature(ctx, id)
	if err != nil {
		return nil, err
	}
	pub, err := vault.ParsePublicKey(pubDER)
	if err != nil {
		return nil, err
	}
	if !vault.Verify(pub, content, sig) {
		return &model.DocumentCheck{Reason: "签名验证失败 (signature does not verify)"}, nil
	}
	return &model.DocumentCheck{Intact: true}, nil
}
