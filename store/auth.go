package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
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

// AccountPolicy is the password, lockout and session policy (等保2.0 三级
// 身份鉴别与登录失败处理). Every value can be set on the command line.
type AccountPolicy struct {
	Password    model.PasswordPolicy
	MaxFailures int           // failed logins in a row that lock the account
	LockFor     time.Duration // how long it stays locked
	IdleTimeout time.Duration // a session unused this long ends
	MaxSession  time.Duration // a session ends this long after login, used or not
	// HashCost is bcrypt's cost for new password hashes (0: bcrypt's
	// default, 10). A hospital may raise it; tests lower it, because the
	// race detector makes each hash take seconds.
	HashCost int
}

// hashPassword hashes a new password at the policy's cost.
func (p AccountPolicy) hashPassword(password string) ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(password), cmp.Or(p.HashCost, bcrypt.DefaultCost))
}

// DefaultAccountPolicy: 10 characters of 3 classes; 5 failures lock for 15
// minutes; sessions end after 30 minutes idle and 8 hours at most.
var DefaultAccountPolicy = AccountPolicy{Password: model.DefaultPasswordPolicy, MaxFailures: 5, LockFor: 15 * time.Minute,
	IdleTimeout: 30 * time.Minute, MaxSession: SessionTTL}

// touchEvery is how stale a session's last-seen time may get before a
// request rewrites it: the idle timeout is exact to this much, and a busy
// session costs one write a minute, not one per request.
const touchEvery = time.Minute

const userColumns = "id, institution_id, username, display_name, role, dept_id, staff_id, patient_id, disabled, must_change_password, locked_until"

func scanUser(row interface{ Scan(...any) error }, extra ...any) (*model.User, error) {
	u := &model.User{}
	var locked sql.NullString
	dest := append([]any{&u.ID, &u.InstitutionID, &u.Username, &u.DisplayName, &u.Role, &u.DeptID, &u.StaffID, &u.PatientID, &u.Disabled,
		&u.MustChangePassword, &locked}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if locked.Valid {
		if t, err := parseTime(locked.String); err == nil {
			u.LockedUntil = &t
		}
	}
	return u, nil
}

// loginLine is the audit line of a login attempt, for the account tried
// (known or not) from the request in ctx.
func loginLine(ctx context.Context, action string, status int, detail string) model.AuditEntry {
	rq := model.RequestFrom(ctx)
	return model.AuditEntry{Action: action, Route: rq.Route, Entity: "user", Status: status, RequestID: rq.ID, Remote: rq.Remote, Detail: detail}
}

// Login checks a password and issues an opaque bearer token; only its hash
// is stored. Every attempt is in the audit log, committed with its effect:
// a failure raises the account's failure count (MaxFailures in a row lock
// it for LockFor), a success resets it and stores the token.
func (db *DB) Login(ctx context.Context, username, password string) (string, *model.User, time.Time, error) {
	pol := db.Policy
	var hash string
	var failed int
	u, err := scanUser(db.r.QueryRowContext(ctx, db.sqlText("SELECT "+userColumns+", password_hash, failed_logins FROM user_account WHERE username = ?"), username), &hash, &failed)
	if errors.Is(err, sql.ErrNoRows) {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		name := username
		if len([]rune(name)) > 64 {
			name = string([]rune(name)[:64])
		}
		ctx := model.WithActor(ctx, model.Actor{Username: name, Role: "unknown"})
		if err := db.Audit(ctx, loginLine(ctx, "login_failed", http.StatusUnauthorized, "no such account")); err != nil {
			return "", nil, time.Time{}, err
		}
		return "", nil, time.Time{}, errBadLogin
	} else if err != nil {
		return "", nil, time.Time{}, err
	}
	actor := model.ActorOf(u)
	actx := model.WithActor(ctx, actor)
	now := db.Now().UTC()
	if u.LockedUntil != nil && now.Before(*u.LockedUntil) {
		if err := db.Audit(actx, loginLine(ctx, "login_refused", http.StatusLocked, "locked until "+formatTime(*u.LockedUntil))); err != nil {
			return "", nil, time.Time{}, err
		}
		return "", nil, time.Time{}, lockedError(*u.LockedUntil, now)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || u.Disabled {
		var lockedUntil *time.Time
		err := db.enqueue(actx, func(tx *Tx) error {
			n := failed + 1
			var until any
			if pol.MaxFailures > 0 && n >= pol.MaxFailures {
				t := tx.now.Add(pol.LockFor)
				lockedUntil, until, n = &t, formatTime(t), 0
			}
			if _, err := tx.exec("UPDATE user_account SET failed_logins = ?, locked_until = COALESCE(?, locked_until) WHERE id = ?", n, until, u.ID); err != nil {
				return err
			}
			detail := fmt.Sprintf("failure %d of %d", failed+1, pol.MaxFailures)
			if u.Disabled {
				detail = "account disabled"
			}
			if lockedUntil != nil {
				detail += ", locked until " + formatTime(*lockedUntil)
			}
			return tx.auditLine(actor, loginLine(ctx, "login_failed", http.StatusUnauthorized, detail))
		})
		if err != nil {
			return "", nil, time.Time{}, err
		}
		if lockedUntil != nil {
			return "", nil, time.Time{}, lockedError(*lockedUntil, now)
		}
		return "", nil, time.Time{}, errBadLogin
	}
	token, err := newToken()
	if err != nil {
		return "", nil, time.Time{}, err
	}
	exp := now.Add(pol.MaxSession)
	err = db.enqueue(actx, func(tx *Tx) error {
		if _, err := tx.exec("UPDATE user_account SET failed_logins = 0, locked_until = NULL WHERE id = ?", u.ID); err != nil {
			return err
		}
		if _, err := tx.exec("INSERT INTO auth_token (token_hash, user_id, institution_id, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
			hashToken(token), u.ID, u.InstitutionID, formatTime(now), formatTime(exp), formatTime(now)); err != nil {
			return err
		}
		return tx.auditLine(actor, loginLine(ctx, "login", http.StatusOK, ""))
	})
	u.LockedUntil = nil
	return token, u, exp, err
}

func lockedError(until, now time.Time) error {
	mins := int(until.Sub(now).Minutes()) + 1
	return model.Errorf(model.ELOCKED, "登录失败次数过多，账号已锁定，请 %d 分钟后再试或联系安全管理员 (account locked for %d more minutes)", mins, mins)
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
	err = db.write(ctx, func(tx *Tx) error {
		_, err := tx.exec("INSERT INTO auth_token (token_hash, patient_id, institution_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
			hashToken(token), p.ID, p.InstitutionID, formatTime(now), formatTime(exp))
		return err
	})
	return token, exp, err
}

// LinkExpiry is when a live patient link's token stops working, and how
// long that is from now by the service's clock (a cookie's Max-Age, which
// the browser counts on its own clock); any other token is refused.
func (db *DB) LinkExpiry(ctx context.Context, token string) (time.Time, time.Duration, error) {
	var expires string
	err := readStmts{db}.QueryRowContext(ctx, "SELECT expires_at FROM auth_token WHERE token_hash = ? AND patient_id IS NOT NULL AND revoked_at IS NULL",
		hashToken(token)).Scan(&expires)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, 0, model.Errorf(model.EUNAUTHORIZED, "链接无效或已撤销 (invalid link)")
	} else if err != nil {
		return time.Time{}, 0, err
	}
	exp, err := parseTime(expires)
	return exp, exp.Sub(db.Now()), err
}

// Authenticate resolves a bearer token to the actor it stands for, with one
// query per request: the token joined to its account, if it has one. A
// session ends MaxSession after login and after IdleTimeout unused.
func (db *DB) Authenticate(ctx context.Context, token string) (model.Actor, error) {
	var patientID sql.NullInt64
	var inst int64
	var expires string
	var revoked, lastSeen sql.NullString
	var uid sql.NullInt64
	var uinst sql.NullInt64
	var username, name, role sql.NullString
	var dept, staff, upatient sql.NullInt64
	var disabled, mustChange sql.NullBool
	th := hashToken(token)
	err := readStmts{db}.QueryRowContext(ctx, `SELECT t.patient_id, t.institution_id, t.expires_at, t.revoked_at, t.last_seen_at,
 u.id, u.institution_id, u.username, u.display_name, u.role, u.dept_id, u.staff_id, u.patient_id, u.disabled, u.must_change_password
FROM auth_token t LEFT JOIN user_account u ON u.id = t.user_id WHERE t.token_hash = ?`, th).Scan(
		&patientID, &inst, &expires, &revoked, &lastSeen, &uid, &uinst, &username, &name, &role, &dept, &staff, &upatient, &disabled, &mustChange)
	if errors.Is(err, sql.ErrNoRows) || revoked.Valid {
		return model.Actor{}, model.Errorf(model.EUNAUTHORIZED, "未登录或登录已失效 (invalid token)")
	} else if err != nil {
		return model.Actor{}, err
	}
	now := db.Now()
	if exp, _ := parseTime(expires); !now.Before(exp) {
		return model.Actor{}, model.Errorf(model.EUNAUTHORIZED, "登录已过期，请重新登录 (token expired)")
	}
	if patientID.Valid {
		return model.Actor{Role: model.RolePatient, PatientID: patientID.Int64, InstitutionID: inst}, nil
	}
	if !uid.Valid || disabled.Bool {
		return model.Actor{}, model.Errorf(model.EUNAUTHORIZED, "账号已停用 (account disabled)")
	}
	if lastSeen.Valid {
		seen, _ := parseTime(lastSeen.String)
		if idle := db.Policy.IdleTimeout; idle > 0 && now.Sub(seen) >= idle {
			return model.Actor{}, model.Errorf(model.EUNAUTHORIZED, "长时间未操作，登录已失效，请重新登录 (session idle for %s)", idle)
		}
		if now.Sub(seen) >= touchEvery {
			err := db.enqueue(ctx, func(tx *Tx) error {
				_, err := tx.exec("UPDATE auth_token SET last_seen_at = ? WHERE token_hash = ?", formatTime(tx.now), th)
				return err
			})
			if err != nil {
				return model.Actor{}, err
			}
		}
	}
	ptr := func(n sql.NullInt64) *int64 {
		if n.Valid {
			return &n.Int64
		}
		return nil
	}
	return model.ActorOf(&model.User{ID: uid.Int64, InstitutionID: uinst.Int64, Username: username.String, DisplayName: name.String,
		Role: role.String, DeptID: ptr(dept), StaffID: ptr(staff), PatientID: ptr(upatient), MustChangePassword: mustChange.Bool}), nil
}

// Logout revokes a token.
func (db *DB) Logout(ctx context.Context, token string) error {
	return db.enqueue(ctx, func(tx *Tx) error {
		_, err := tx.exec("UPDATE auth_token SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL", formatTime(tx.now), hashToken(token))
		return err
	})
}

// User returns a login account.
func (db *DB) User(ctx context.Context, id int64) (*model.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, db.sqlText("SELECT "+userColumns+" FROM user_account WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.NotFound("用户", id)
	}
	return u, err
}

// IssueToken gives the command line a short-lived session of an existing
// account, so that a tool can render pages as that account sees them (the
// evidence pack's dashboard screenshots). Only the system actor may ask,
// and the issue is in the audit log.
func (db *DB) IssueToken(ctx context.Context, username string, ttl time.Duration, why string) (string, *model.User, error) {
	if model.ActorFrom(ctx).Role != model.RoleSystem {
		return "", nil, model.Errorf(model.EFORBIDDEN, "只有命令行可以签发会话 (only the command line issues sessions)")
	}
	u, err := scanUser(db.r.QueryRowContext(ctx, db.sqlText("SELECT "+userColumns+" FROM user_account WHERE username = ?"), username))
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, model.Invalid("as", "没有账号 %q (no such account)", username)
	} else if err != nil {
		return "", nil, err
	}
	if u.Disabled {
		return "", nil, model.Invalid("as", "账号 %s 已停用 (account disabled)", username)
	}
	token, err := newToken()
	if err != nil {
		return "", nil, err
	}
	err = db.enqueue(ctx, func(tx *Tx) error {
		if _, err := tx.exec("INSERT INTO auth_token (token_hash, user_id, institution_id, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
			hashToken(token), u.ID, u.InstitutionID, formatTime(tx.now), formatTime(tx.now.Add(ttl)), formatTime(tx.now)); err != nil {
			return err
		}
		return tx.auditLine(model.ActorOf(u), model.AuditEntry{Action: "session_issued", Route: "zhiliao", Entity: "user",
			EntityID: fmt.Sprint(u.ID), Status: 200, Detail: why})
	})
	return token, u, err
}
