package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/zhiliao/zhiliao/model"
)

// Token lifetimes.
const (
	SessionTTL     = 8 * time.Hour       // a working shift
	PatientLinkTTL = 30 * 24 * time.Hour // covers a course and its first follow-ups
)

// dummyHash is compared against when the user does not exist, so that a
// failed login takes as long whether or not the name is known.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("zhiliao-no-such-user"), bcrypt.DefaultCost)

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

var errBadLogin = model.Errorf(model.EUNAUTHORIZED, "用户名或密码错误 (wrong username or password)")

const userColumns = "id, institution_id, username, display_name, role, dept_id, staff_id, patient_id, disabled"

func scanUser(row interface{ Scan(...any) error }, extra ...any) (*model.User, error) {
	u := &model.User{}
	dest := append([]any{&u.ID, &u.InstitutionID, &u.Username, &u.DisplayName, &u.Role, &u.DeptID, &u.StaffID, &u.PatientID, &u.Disabled}, extra...)
	return u, row.Scan(dest...)
}

// Login checks a password and issues an opaque bearer token; only its hash is stored.
func (db *DB) Login(ctx context.Context, username, password string) (string, *model.User, time.Time, error) {
	var hash string
	u, err := scanUser(db.r.QueryRowContext(ctx, "SELECT "+userColumns+", password_hash FROM user_account WHERE username = ?", username), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return "", nil, time.Time{}, errBadLogin
	} else if err != nil {
		return "", nil, time.Time{}, err
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || u.Disabled {
		return "", nil, time.Time{}, errBadLogin
	}
	token, err := newToken()
	if err != nil {
		return "", nil, time.Time{}, err
	}
	now := db.Now().UTC()
	exp := now.Add(SessionTTL)
	_, err = db.w.ExecContext(ctx, "INSERT INTO auth_token (token_hash, user_id, institution_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		hashToken(token), u.ID, u.InstitutionID, formatTime(now), formatTime(exp))
	return token, u, exp, err
}

// CreatePatientLink issues a link token with which a patient opens their own
// appointments, precautions and surveys.
func (db *DB) CreatePatientLink(ctx context.Context, patientID int64) (string, time.Time, error) {
	p, err := scoped[model.Patient](ctx, db, patientID)
	if err != nil {
		return "", time.Time{}, err
	}
	token, err := newToken()
	if err != nil {
		return "", time.Time{}, err
	}
	now := db.Now().UTC()
	exp := now.Add(PatientLinkTTL)
	_, err = db.w.ExecContext(ctx, "INSERT INTO auth_token (token_hash, patient_id, institution_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		hashToken(token), p.ID, p.InstitutionID, formatTime(now), formatTime(exp))
	return token, exp, err
}

// Authenticate resolves a bearer token to the actor it stands for, with one
// query per request: the token joined to its account, if it has one.
func (db *DB) Authenticate(ctx context.Context, token string) (model.Actor, error) {
	var patientID sql.NullInt64
	var inst int64
	var expires string
	var revoked sql.NullString
	var uid sql.NullInt64
	var uinst sql.NullInt64
	var username, name, role sql.NullString
	var dept, staff, upatient sql.NullInt64
	var disabled sql.NullBool
	err := readStmts{db}.QueryRowContext(ctx, `SELECT t.patient_id, t.institution_id, t.expires_at, t.revoked_at,
 u.id, u.institution_id, u.username, u.display_name, u.role, u.dept_id, u.staff_id, u.patient_id, u.disabled
FROM auth_token t LEFT JOIN user_account u ON u.id = t.user_id WHERE t.token_hash = ?`, hashToken(token)).Scan(
		&patientID, &inst, &expires, &revoked, &uid, &uinst, &username, &name, &role, &dept, &staff, &upatient, &disabled)
	if errors.Is(err, sql.ErrNoRows) || revoked.Valid {
		return model.Actor{}, model.Errorf(model.EUNAUTHORIZED, "未登录或登录已失效 (invalid token)")
	} else if err != nil {
		return model.Actor{}, err
	}
	if exp, _ := parseTime(expires); !db.Now().Before(exp) {
		return model.Actor{}, model.Errorf(model.EUNAUTHORIZED, "登录已过期，请重新登录 (token expired)")
	}
	if patientID.Valid {
		return model.Actor{Role: model.RolePatient, PatientID: patientID.Int64, InstitutionID: inst}, nil
	}
	if !uid.Valid || disabled.Bool {
		return model.Actor{}, model.Errorf(model.EUNAUTHORIZED, "账号已停用 (account disabled)")
	}
	ptr := func(n sql.NullInt64) *int64 {
		if n.Valid {
			return &n.Int64
		}
		return nil
	}
	return model.ActorOf(&model.User{ID: uid.Int64, InstitutionID: uinst.Int64, Username: username.String, DisplayName: name.String,
		Role: role.String, DeptID: ptr(dept), StaffID: ptr(staff), PatientID: ptr(upatient)}), nil
}

// Logout revokes a token.
func (db *DB) Logout(ctx context.Context, token string) error {
	_, err := db.w.ExecContext(ctx, "UPDATE auth_token SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
		formatTime(db.Now()), hashToken(token))
	return err
}

// User returns a login account.
func (db *DB) User(ctx context.Context, id int64) (*model.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, "SELECT "+userColumns+" FROM user_account WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.NotFound("用户", id)
	}
	return u, err
}

// Audit queues one entry for the audit log; the audit writer commits queued
// entries together, at most auditFlushEvery after they were queued, so an
// audited request does not pay for a second commit on the single writer.
// Close and FlushAudit write everything queued.
func (db *DB) Audit(ctx context.Context, e model.AuditEntry) error {
	a := model.ActorFrom(ctx)
	if a.Role == model.RolePatient && a.Username == "" {
		a.Username = fmt.Sprintf("patient:%d", a.PatientID) // link holders have no account name
	}
	row := auditRow{at: formatTime(db.Now()), actor: a, e: e}
	select {
	case db.auditQ <- row:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type auditRow struct {
	at    string
	actor model.Actor
	e     model.AuditEntry
	done  chan error // set for a flush request
}

const (
	auditFlushEvery = 20 * time.Millisecond
	auditBatch      = 512
)

func (db *DB) auditWriter() {
	defer close(db.auditDone)
	var batch []auditRow
	var waiters []chan error
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		err := db.writeAudit(batch)
		if err != nil {
			db.Logger.Error("audit write failed", "rows", len(batch), "err", err)
		}
		for _, w := range waiters {
			w <- err
		}
		batch, waiters = batch[:0], waiters[:0]
	}
	for {
		select {
		case r, ok := <-db.auditQ:
			if !ok {
				flush()
				return
			}
			if r.done != nil {
				waiters = append(waiters, r.done)
				flush()
				continue
			}
			if len(batch) == 0 {
				timer.Reset(auditFlushEvery)
			}
			batch = append(batch, r)
			if len(batch) >= auditBatch {
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

func (db *DB) writeAudit(rows []auditRow) error {
	if len(rows) == 0 {
		return nil
	}
	tx, err := db.w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.Prepare(`INSERT INTO audit_log (at, institution_id, user_id, username, role, action, route, entity, entity_id, status, request_id, remote, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	for _, r := range rows {
		a, e := r.actor, r.e
		if _, err := st.Exec(r.at, a.InstitutionID, a.UserID, a.Username, a.Role, e.Action, e.Route, e.Entity, e.EntityID, e.Status,
			e.RequestID, e.Remote, e.Detail); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// FlushAudit writes every queued audit entry before it returns.
func (db *DB) FlushAudit(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case db.auditQ <- auditRow{done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-done
}
