package store

import (
	"context"
	"crypto/ecdsa"
	"database/sql"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/zhiliao/zhiliao/vault"
)

// The audit log's hash chain (issue 15). Triggers keep audit_log append-only,
// but anyone holding the database file can drop a trigger. The chain makes
// such an edit show:
//   - chain line n carries hash_n = SM3(hash_{n-1}, the line's fields), over
//     the lines in the order the sealer met them committed. A line altered,
//     deleted or moved breaks every hash from it on.
//   - each sealing ends with an anchor: the chain's head (n, hash_n, time)
//     signed with the service's SM2 key. Nobody without the master key can
//     recompute the chain after an edit and sign a new head, and a tail cut
//     off shows as an anchor beyond the chain's end.
// Lines wait in audit_pending (a trigger fills it) until the sealer takes
// them, every few seconds in the service. Sealing is one transaction at a
// time: SQLite's writer, or an advisory lock on PostgreSQL, where a line of a
// transaction still in flight is invisible and is taken in a later round.

// auditFields are the columns a chain hash covers, in order.
const auditFields = "a.id, a.at, a.institution_id, a.user_id, a.username, a.role, a.action, a.route, a.entity, a.entity_id, a.status, a.request_id, a.remote, a.detail"

// auditSealLock is the advisory lock key of the sealer on PostgreSQL.
const auditSealLock = 0x7a686c0002

// chainHash is the hash of a line given the previous one.
func chainHash(prev string, line []string) string {
	return hex.EncodeToString(vault.Digest(append([]string{prev}, line...)...))
}

// anchorDigest is what an anchor's signature covers.
func anchorDigest(n int64, hash, at string) []byte {
	return vault.Digest("zhiliao audit anchor v1", strconv.FormatInt(n, 10), hash, at)
}

// auditFieldsOrBlank is auditFields read through a LEFT JOIN: a line that
// is gone reads as id 0 and blanks.
const auditFieldsOrBlank = "COALESCE(a.id, 0), COALESCE(a.at, ''), COALESCE(a.institution_id, 0), COALESCE(a.user_id, 0), COALESCE(a.username, ''), " +
	"COALESCE(a.role, ''), COALESCE(a.action, ''), COALESCE(a.route, ''), COALESCE(a.entity, ''), COALESCE(a.entity_id, ''), COALESCE(a.status, 0), " +
	"COALESCE(a.request_id, ''), COALESCE(a.remote, ''), COALESCE(a.detail, '')"

// scanLine reads the fields of auditFields as text, after the row's lead
// columns (read into lead).
func scanLine(sc interface{ Scan(...any) error }, lead ...any) ([]string, error) {
	var id, inst, user, status int64
	f := make([]string, 14)
	if err := sc.Scan(append(lead, &id, &f[1], &inst, &user, &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &status, &f[11], &f[12], &f[13])...); err != nil {
		return nil, err
	}
	f[0], f[2], f[3], f[10] = strconv.FormatInt(id, 10), strconv.FormatInt(inst, 10), strconv.FormatInt(user, 10), strconv.FormatInt(status, 10)
	return f, nil
}

// SealAudit chains the lines committed since the last seal and signs the new
// head; it returns how many lines it chained.
func (db *DB) SealAudit(ctx context.Context) (int, error) {
	signer, err := db.serviceSigner(ctx)
	if err != nil {
		return 0, err
	}
	sealed := 0
	err = db.enqueue(ctx, func(tx *Tx) error {
		sealed = 0
		if err := db.eng.LockTx(tx.ctx, tx.tx, int64(auditSealLock)); err != nil {
			return err
		}
		var n int64
		var prev string
		err := tx.queryRow("SELECT n, hash FROM audit_chain ORDER BY n DESC LIMIT 1").Scan(&n, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		rows, err := tx.tx.QueryContext(tx.ctx, "SELECT "+auditFields+" FROM audit_pending p JOIN audit_log a ON a.id = p.audit_id ORDER BY a.id LIMIT 20000")
		if err != nil {
			return err
		}
		var lines [][]string
		for rows.Next() {
			f, err := scanLine(rows)
			if err != nil {
				rows.Close()
				return err
			}
			lines = append(lines, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(lines) == 0 {
			return err
		}
		for _, f := range lines {
			n++
			prev = chainHash(prev, f)
			if _, err := tx.exec("INSERT INTO audit_chain (n, audit_id, hash) VALUES (?, ?, ?)", n, f[0], prev); err != nil {
				return err
			}
			if _, err := tx.exec("DELETE FROM audit_pending WHERE audit_id = ?", f[0]); err != nil {
				return err
			}
		}
		at := formatTime(tx.now)
		var sig []byte
		if signer != nil {
			if sig, err = signer.Sign(anchorDigest(n, prev, at)); err != nil {
				return err
			}
		}
		if _, err := tx.exec("INSERT INTO audit_anchor (n, hash, at, signature) VALUES (?, ?, ?, ?)", n, prev, at, sig); err != nil {
			return err
		}
		sealed = len(lines)
		return nil
	})
	return sealed, err
}

// serviceSigner is the service's SM2 key, made on first use; nil on a core
// without keys (its anchors are then unsigned, and verify says so).
func (db *DB) serviceSigner(ctx context.Context) (vault.Signer, error) {
	if db.master == nil {
		return nil, nil
	}
	return db.signerOf(poolRW{ctx, db}, "service")
}

// keyRW is where signerOf reads and writes keys: the writer's transaction
// when a write signs (SQLite's one connection is held by it), the pool
// otherwise.
type keyRW interface {
	queryRow(query string, args ...any) *sql.Row
	exec(query string, args ...any) (sql.Result, error)
}

type poolRW struct {
	ctx context.Context
	db  *DB
}

func (p poolRW) queryRow(query string, args ...any) *sql.Row {
	return p.db.w.QueryRowContext(p.ctx, p.db.sqlText(query), args...)
}

func (p poolRW) exec(query string, args ...any) (sql.Result, error) {
	return p.db.w.ExecContext(p.ctx, p.db.sqlText(query), args...)
}

// signerOf loads the SM2 key of owner ("service", "staff:<id>"), making
// and storing one on first use. The private key is wrapped by the master key.
func (db *DB) signerOf(rw keyRW, owner string) (*vault.SM2Signer, error) {
	if s, ok := db.signers.Load(owner); ok {
		return s.(*vault.SM2Signer), nil
	}
	created := false
	var wrapped []byte
	var fp string
	for {
		err := rw.queryRow("SELECT wrapped, master FROM signing_key WHERE owner = ?", owner).Scan(&wrapped, &fp)
		if err == nil {
			break
		}
		if !errors.Is(err, sql.ErrNoRows) || created {
			return nil, err
		}
		s, der, err := vault.GenerateSM2()
		if err != nil {
			return nil, err
		}
		// ON CONFLICT: another process may make one at the same time; the
		// row that won is read back.
		if _, err := rw.exec("INSERT INTO signing_key (owner, public_key, wrapped, master, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (owner) DO NOTHING",
			owner, s.PublicKey(), db.master.Wrap(der, "sm2:"+owner), db.master.Fingerprint, formatTime(time.Now())); err != nil {
			return nil, err
		}
		created = true
	}
	if fp != db.master.Fingerprint {
		return nil, fmt.Errorf("%w: signing key of %s wrapped by master key %s", vault.ErrMasterKey, owner, fp)
	}
	der, err := db.master.Unwrap(wrapped, "sm2:"+owner)
	if err != nil {
		return nil, err
	}
	s, err := vault.ParseSM2(der)
	if err == nil && !created {
		// A key made in this call is not kept: its transaction may yet
		// roll back, and a signature by a key the core never stored would
		// not verify.
		db.signers.Store(owner, s)
	}
	return s, err
}

// publicKeys reads every stored public key by owner.
func (db *DB) publicKeys(ctx context.Context) (map[string]*ecdsa.PublicKey, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT owner, public_key FROM signing_key")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*ecdsa.PublicKey{}
	for rows.Next() {
		var owner string
		var der []byte
		if err := rows.Scan(&owner, &der); err != nil {
			return nil, err
		}
		pub, err := vault.ParsePublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("public key of %s: %w", owner, err)
		}
		out[owner] = pub
	}
	return out, rows.Err()
}

// AuditReport is what VerifyAudit found.
type AuditReport struct {
	Lines    int64    // chained lines checked
	Anchors  int64    // anchors checked
	Pending  int64    // lines not yet sealed (the sealer's next round)
	Unsealed int64    // lines neither chained nor pending: added around the sealer
	Problems []string // each break found, in Chinese and English
	Oldest   string   // time of the oldest chained line
	Newest   string
}

// OK reports whether the log verified.
func (r *AuditReport) OK() bool { return len(r.Problems) == 0 && r.Unsealed == 0 }

// VerifyAudit walks the whole chain: every chained line must exist, hash to
// its recorded hash from its predecessor, and every anchor must match the
// chain and carry a valid signature of the service's key.
func (db *DB) VerifyAudit(ctx context.Context) (*AuditReport, error) {
	r := &AuditReport{}
	problem := func(format string, args ...any) {
		if len(r.Problems) < 1000 {
			r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
		}
	}
	keys, err := db.publicKeys(ctx)
	if err != nil {
		return nil, err
	}
	// The anchors first (one per sealing: far fewer than lines), checked
	// against the chain as it streams past them.
	type anchor struct {
		hash, at string
		sig      []byte
	}
	anchors := map[int64]anchor{}
	arows, err := db.r.QueryContext(ctx, "SELECT n, hash, at, signature FROM audit_anchor ORDER BY n")
	if err != nil {
		return nil, err
	}
	for arows.Next() {
		var n int64
		var a anchor
		if err := arows.Scan(&n, &a.hash, &a.at, &a.sig); err != nil {
			arows.Close()
			return nil, err
		}
		anchors[n] = a
		r.Anchors++
		switch pub := keys["service"]; {
		case len(a.sig) == 0:
			problem("锚点 %d 未签名 (anchor unsigned: the core has no keys)", n)
		case pub == nil || !vault.Verify(pub, anchorDigest(n, a.hash, a.at), a.sig):
			problem("锚点 %d 的 SM2 签名无效 (anchor signature invalid)", n)
		}
	}
	arows.Close()
	if err := arows.Err(); err != nil {
		return nil, err
	}
	// The chain in order, each link with its line (or blanks where the line
	// is gone): nothing is held but the previous hash.
	rows, err := db.r.QueryContext(ctx, "SELECT c.n, c.audit_id, c.hash, "+auditFieldsOrBlank+" FROM audit_chain c LEFT JOIN audit_log a ON a.id = c.audit_id ORDER BY c.n")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	prev := ""
	for rows.Next() {
		var n, id int64
		var hash string
		f, err := scanLine(rows, &n, &id, &hash)
		if err != nil {
			return nil, err
		}
		if n != r.Lines+1 {
			problem("链第 %d 行缺失 (chain line %d missing: deleted)", r.Lines+1, r.Lines+1)
			break
		}
		r.Lines++
		switch {
		case f[0] == "0":
			problem("链第 %d 行的审计记录 %d 已被删除 (audit line %d of chain line %d deleted)", n, id, id, n)
		case chainHash(prev, f) != hash:
			problem("链第 %d 行（审计记录 %d）与链不符：被修改或调换顺序 (audit line %d altered or moved)", n, id, id)
		default:
			if r.Oldest == "" {
				r.Oldest = f[1]
			}
			r.Newest = f[1]
		}
		if a, ok := anchors[n]; ok && a.hash != hash {
			problem("锚点 %d（%s）与链不符 (anchor does not match the chain)", n, a.at)
		}
		prev = hash
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for n, a := range anchors {
		if n > r.Lines {
			problem("锚点 %d（%s）超出链尾 %d：链尾被截断 (anchor beyond the chain's end: lines cut off)", n, a.at, r.Lines)
		}
	}
	if err := db.r.QueryRowContext(ctx, "SELECT count(*) FROM audit_pending").Scan(&r.Pending); err != nil {
		return nil, err
	}
	err = db.r.QueryRowContext(ctx, `SELECT count(*) FROM audit_log a WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.audit_id = a.id)
AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.audit_id = a.id)`).Scan(&r.Unsealed)
	if err != nil {
		return nil, err
	}
	if r.Unsealed > 0 {
		problem("%d 条审计记录既未入链也不在待封存队列 (audit lines outside the chain)", r.Unsealed)
	}
	return r, nil
}

// AuditProof is what an auditor needs to check an exported range of the
// chain without the database: the hash before its first line, the anchors
// that cover it, and the service's public key.
type AuditProof struct {
	Algorithm   string        `json:"algorithm"`
	From        string        `json:"from,omitempty"`
	To          string        `json:"to,omitempty"`
	FirstN      int64         `json:"first_n"`
	LastN       int64         `json:"last_n"`
	PrevHash    string        `json:"prev_hash"` // hash of line first_n-1 ("" for the first line ever)
	Anchors     []AuditAnchor `json:"anchors"`
	ServiceKey  string        `json:"service_public_key"` // SM2, PKIX DER, base64
	GeneratedAt string        `json:"generated_at"`
}

// AuditAnchor is one signed head of the chain.
type AuditAnchor struct {
	N         int64  `json:"n"`
	Hash      string `json:"hash"`
	At        string `json:"at"`
	Signature string `json:"signature"` // SM2, ASN.1, base64, over SM3(len-prefixed "zhiliao audit anchor v1", n, hash, at)
}

// auditHeader is the export's first row.
var auditHeader = []string{"n", "hash", "in_period", "id", "at", "institution_id", "user_id", "username", "role", "action", "route", "entity", "entity_id", "status", "request_id", "remote", "detail"}

// ExportAudit writes the chained lines whose time falls in [from, to) as
// CSV rows (with every line chained between them, so the range is
// contiguous and can be recomputed) and returns the chain proof as JSON.
// Text cells are written as stored: the CSV is evidence, read by tools,
// and the proof covers its exact bytes; open it as text, not in a
// spreadsheet.
func (db *DB) ExportAudit(ctx context.Context, from, to time.Time, w *csv.Writer) ([]byte, error) {
	lo, hi := "", "9999"
	if !from.IsZero() {
		lo = formatTime(from)
	}
	if !to.IsZero() {
		hi = formatTime(to)
	}
	var first, last sql.NullInt64
	if err := db.r.QueryRowContext(ctx, db.sqlText("SELECT min(c.n), max(c.n) FROM audit_chain c JOIN audit_log a ON a.id = c.audit_id WHERE a.at >= ? AND a.at < ?"), lo, hi).Scan(&first, &last); err != nil {
		return nil, err
	}
	proof := AuditProof{Algorithm: "hash_n = hex(SM3(for each of prev_hash, id, at, institution_id, user_id, username, role, action, route, entity, entity_id, status, request_id, remote, detail: 8-byte big-endian length, then the UTF-8 bytes)))",
		GeneratedAt: formatTime(time.Now())}
	if !from.IsZero() {
		proof.From = lo
	}
	if !to.IsZero() {
		proof.To = hi
	}
	if err := w.Write(auditHeader); err != nil {
		return nil, err
	}
	if first.Valid {
		proof.FirstN, proof.LastN = first.Int64, last.Int64
		if first.Int64 > 1 {
			if err := db.r.QueryRowContext(ctx, db.sqlText("SELECT hash FROM audit_chain WHERE n = ?"), first.Int64-1).Scan(&proof.PrevHash); err != nil {
				return nil, err
			}
		}
		rows, err := db.r.QueryContext(ctx, db.sqlText("SELECT c.n, c.hash, "+auditFields+" FROM audit_chain c JOIN audit_log a ON a.id = c.audit_id WHERE c.n BETWEEN ? AND ? ORDER BY c.n"), first.Int64, last.Int64)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var n int64
			var hash string
			f, err := scanLine(rows, &n, &hash)
			if err != nil {
				return nil, err
			}
			in := "1"
			if f[1] < lo || f[1] >= hi {
				in = "0"
			}
			if err := w.Write(append([]string{strconv.FormatInt(n, 10), hash, in}, f...)); err != nil {
				return nil, err
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		// The anchors inside the range and the first one after it.
		arows, err := db.r.QueryContext(ctx, db.sqlText("SELECT n, hash, at, signature FROM audit_anchor WHERE n >= ? AND n <= COALESCE((SELECT min(n) FROM audit_anchor WHERE n >= ?), ?) ORDER BY n"), first.Int64, last.Int64, last.Int64)
		if err != nil {
			return nil, err
		}
		defer arows.Close()
		for arows.Next() {
			var a AuditAnchor
			var sig []byte
			if err := arows.Scan(&a.N, &a.Hash, &a.At, &sig); err != nil {
				return nil, err
			}
			a.Signature = base64.StdEncoding.EncodeToString(sig)
			proof.Anchors = append(proof.Anchors, a)
		}
		if err := arows.Err(); err != nil {
			return nil, err
		}
	}
	var pub []byte
	err := db.r.QueryRowContext(ctx, "SELECT public_key FROM signing_key WHERE owner = 'service'").Scan(&pub)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	proof.ServiceKey = base64.StdEncoding.EncodeToString(pub)
	return json.MarshalIndent(proof, "", "  ")
}
