package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// CreateDisplay makes a waiting-room display's link for a department: a
// token that shows that department's board, read-only and with masked
// names, without a staff session (a screen on the wall must not log out
// at the end of a shift), until it is revoked. Only its hash is kept; the
// token is returned once.
func (db *DB) CreateDisplay(ctx context.Context, deptID int64, label string) (*model.Display, string, error) {
	label = strings.TrimSpace(label)
	if utf8.RuneCountInString(label) > 40 || strings.ContainsFunc(label, func(r rune) bool { return r < 0x20 }) {
		return nil, "", model.Invalid("label", "名称不超过 40 个字")
	}
	a := model.ActorFrom(ctx)
	if policy.DeptBound(a) && deptID != a.DeptID {
		return nil, "", model.Errorf(model.EFORBIDDEN, "无权为其他科室生成大屏链接 (another department)")
	}
	dept, err := scoped[model.Department](ctx, db, deptID)
	if err != nil {
		return nil, "", err
	}
	token, err := newToken()
	if err != nil {
		return nil, "", err
	}
	d := &model.Display{InstitutionID: dept.InstitutionID, DeptID: dept.ID, Label: label, CreatedBy: a.UserID, CreatedAt: db.nowFor(ctx).UTC()}
	if d.Label == "" {
		d.Label = dept.Name + "候诊大屏"
	}
	err = db.write(ctx, func(tx *Tx) error {
		return tx.queryRow("INSERT INTO display_token (institution_id, dept_id, token_hash, label, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
			d.InstitutionID, d.DeptID, hashToken(token), d.Label, d.CreatedBy, formatTime(d.CreatedAt)).Scan(&d.ID)
	})
	return d, token, err
}

// Displays lists a department's display links, live ones first.
func (db *DB) Displays(ctx context.Context, deptID int64) ([]model.Display, error) {
	cond, args, err := scopeFilter(ctx, deptID)
	if err != nil {
		return nil, err
	}
	rows, err := db.q(ctx).QueryContext(ctx, "SELECT id, institution_id, dept_id, label, created_by, created_at, revoked_at FROM display_token WHERE "+cond+
		" ORDER BY revoked_at IS NOT NULL, id DESC LIMIT 200", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []model.Display{}
	for rows.Next() {
		var d model.Display
		var created string
		var revoked sql.NullString
		if err := rows.Scan(&d.ID, &d.InstitutionID, &d.DeptID, &d.Label, &d.CreatedBy, &created, &revoked); err != nil {
			return nil, err
		}
		if d.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if revoked.Valid {
			t, err := parseTime(revoked.String)
			if err != nil {
				return nil, err
			}
			d.RevokedAt = &t
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RevokeDisplay ends a display link: the screen shows that it was revoked.
func (db *DB) RevokeDisplay(ctx context.Context, id int64) error {
	cond, args, err := scopeFilter(ctx, 0)
	if err != nil {
		return err
	}
	return db.write(ctx, func(tx *Tx) error {
		var dept int64
		var revoked sql.NullString
		err := tx.queryRow("SELECT dept_id, revoked_at FROM display_token WHERE id = ? AND "+cond, append([]any{id}, args...)...).Scan(&dept, &revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return model.NotFound("大屏链接", id)
		case err != nil:
			return err
		case revoked.Valid:
			return model.Conflict("display.revoked", "该大屏链接已撤销")
		}
		_, err = tx.exec("UPDATE display_token SET revoked_at = ? WHERE id = ?", formatTime(tx.now), id)
		return err
	})
}

// DisplayBoard is the board a display link shows: its department's queue,
// names masked, as QueueBoard gives it, read as the link's institution and
// nothing more. A link made up, revoked or of a removed department is
// refused as unauthorized.
func (db *DB) DisplayBoard(ctx context.Context, token string) (*model.QueueBoard, error) {
	var inst, dept int64
	err := readStmts{db}.QueryRowContext(ctx, "SELECT institution_id, dept_id FROM display_token WHERE token_hash = ? AND revoked_at IS NULL",
		hashToken(token)).Scan(&inst, &dept)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, model.Errorf(model.EUNAUTHORIZED, "大屏链接无效或已撤销，请前台重新生成 (invalid or revoked display link)")
	} else if err != nil {
		return nil, err
	}
	return db.QueueBoard(model.WithActor(ctx, model.Actor{Role: model.RoleSystem, InstitutionID: inst}), dept)
}
