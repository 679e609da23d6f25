package store

import (
	"context"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
	"github.com/zhiliao/zhiliao/vault"
)

// SaveConsentTemplate stores a new revision of a project's consent text
// (知情同意书模板), the department manager's edit: revisions are never changed
// in place, and the newest is the one a consent must be signed under. The
// project's consent_template label follows it.
func (db *DB) SaveConsentTemplate(ctx context.Context, r model.NewConsentTemplate) (*model.ConsentTemplate, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var t *model.ConsentTemplate
	err := db.write(ctx, func(tx *Tx) error {
		// Reading the project locks it on PostgreSQL: two managers saving
		// at once take revisions one after the other.
		p, err := get[model.Project](tx, r.ProjectID)
		if err != nil {
			return err
		}
		cur, err := tx.currentConsentTemplate(p.ID)
		switch {
		case err != nil && model.ErrorCode(err) != model.ENOTFOUND:
			return err
		case cur != nil && cur.Title == r.Title && cur.Body == r.Body:
			return model.Conflict("consent_template.unchanged", "与现行第 %d 版内容相同，未保存新版本", cur.Revision)
		}
		t = &model.ConsentTemplate{ProjectID: p.ID, DeptID: p.DeptID, Revision: 1, Title: r.Title, Body: r.Body,
			TextSM3: vault.SM3Hex([]byte(model.ConsentText(r.Title, r.Body))), EditedBy: tx.actor.UserID, Note: r.Note}
		if cur != nil {
			t.Revision = cur.Revision + 1
		}
		t.InstitutionID = p.InstitutionID
		if err := tx.insert(t); err != nil {
			return err
		}
		p.ConsentTemplate = t.Label(p.Code)
		return tx.update(p)
	})
	return t, err
}

// ConsentTemplates lists a project's consent texts, newest revision first.
func (db *DB) ConsentTemplates(ctx context.Context, projectID int64) ([]*model.ConsentTemplate, error) {
	if _, err := scoped[model.Project](ctx, db, projectID); err != nil {
		return nil, err
	}
	out, err := listRows[model.ConsentTemplate](ctx, db.q(ctx), "project_id = ? ORDER BY revision DESC", projectID)
	if out == nil {
		out = []*model.ConsentTemplate{}
	}
	return out, err
}

// currentConsentTemplate is the revision in force for a project, or a
// not-found error when the project has none.
func (tx *Tx) currentConsentTemplate(projectID int64) (*model.ConsentTemplate, error) {
	return findRow[model.ConsentTemplate](tx.ctx, tx, "project_id = ? ORDER BY revision DESC LIMIT 1", projectID)
}

// currentConsentTemplates are the revisions in force for projects, by
// project (a project without one is absent).
func (db *DB) currentConsentTemplates(ctx context.Context, projectIDs []int64) (map[int64]*model.ConsentTemplate, error) {
	out := map[int64]*model.ConsentTemplate{}
	if len(projectIDs) == 0 {
		return out, nil
	}
	rows, err := listRows[model.ConsentTemplate](ctx, db.q(ctx), "project_id IN "+inList(projectIDs)+" ORDER BY project_id, revision", anys(projectIDs)...)
	for _, t := range rows {
		out[t.ProjectID] = t // the highest revision comes last
	}
	return out, err
}

// ConsentText returns a consent with the exact text it was signed under.
func (db *DB) ConsentText(ctx context.Context, consentID int64) (*model.SignedConsentText, error) {
	cs, err := scoped[model.Consent](ctx, db, consentID)
	if err != nil {
		return nil, err
	}
	if cs.TemplateID == 0 {
		return nil, model.NotFound("知情同意书文本", consentID) // signed before texts were kept
	}
	texts, err := db.consentTexts(ctx, []*model.Consent{cs})
	if err != nil {
		return nil, err
	}
	return &texts[0], nil
}

// consentTexts pairs signed consents with the texts they bind, checking
// each text against the digest stored when it was signed. A consent signed
// before texts were kept has no Template.
func (db *DB) consentTexts(ctx context.Context, consents []*model.Consent) ([]model.SignedConsentText, error) {
	var ids []int64
	for _, cs := range consents {
		if cs.TemplateID != 0 {
			ids = append(ids, cs.TemplateID)
		}
	}
	templates := map[int64]*model.ConsentTemplate{}
	if len(ids) > 0 {
		rows, err := listRows[model.ConsentTemplate](ctx, db.q(ctx), "id IN "+inList(ids), anys(ids)...)
		if err != nil {
			return nil, err
		}
		for _, t := range rows {
			templates[t.ID] = t
		}
	}
	out := make([]model.SignedConsentText, len(consents))
	for i, cs := range consents {
		out[i].Consent = cs
		if t := templates[cs.TemplateID]; t != nil {
			out[i].Template = t
			out[i].Intact = vault.SM3Hex([]byte(model.ConsentText(t.Title, t.Body))) == cs.TextSM3
		} else if cs.TemplateID != 0 {
			return nil, model.Errorf(model.EINTERNAL, "consent %d names template %d, which is missing", cs.ID, cs.TemplateID)
		}
	}
	return out, nil
}

// ConsentProjects lists the active projects in the actor's scope that need
// a consent, each with its text in force (nil: none yet, and no consent can
// be signed for it): the department manager's list of texts to keep.
func (db *DB) ConsentProjects(ctx context.Context) ([]model.ProjectConsentText, error) {
	a := model.ActorFrom(ctx)
	where, args := "needs_consent = 1 AND active = 1 AND institution_id = ?", []any{a.InstitutionID}
	if policy.DeptBound(a) {
		where, args = where+" AND dept_id = ?", append(args, a.DeptID)
	}
	projects, err := listRows[model.Project](ctx, db.q(ctx), where+" ORDER BY dept_id, code", args...)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(projects))
	for i, p := range projects {
		ids[i] = p.ID
	}
	current, err := db.currentConsentTemplates(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]model.ProjectConsentText, len(projects))
	for i, p := range projects {
		out[i] = model.ProjectConsentText{Project: p, Current: current[p.ID]}
	}
	return out, nil
}
