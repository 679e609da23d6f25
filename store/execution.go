package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

var _ model.ExecutionService = (*DB)(nil)

// recordDeadline is how long after the treatment a record must be signed to
// count as timely (病历及时性).
const recordDeadline = 24 * time.Hour

func hashOf(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x1f")))
	return hex.EncodeToString(h[:])
}

// SignConsent stores the signature image and records a signed consent for a course.
func (db *DB) SignConsent(ctx context.Context, r model.NewConsent) (*model.Consent, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	path, sum, err := db.storeFile("signatures", ".png", r.Signature)
	if err != nil {
		return nil, err
	}
	var cs *model.Consent
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.self("witness_id", r.WitnessID); err != nil {
			return err
		}
		c, err := get[model.Course](tx, r.CourseID)
		if err != nil {
			return err
		}
		if c.Status != model.CourseActive {
			return model.Conflict("course.not_active", "疗程已结束，不能签署知情同意 (course not active)")
		}
		p, err := get[model.Project](tx, c.ProjectID)
		if err != nil {
			return err
		}
		// A signature binds the text the signer was shown: the revision in
		// force, named by the page that showed it in full.
		tpl, err := tx.currentConsentTemplate(p.ID)
		switch {
		case model.ErrorCode(err) == model.ENOTFOUND:
			return model.Conflict("consent.no_template", "项目「%s」尚无知情同意书文本，不能签署；请科室主任先维护知情同意书模板", p.Name)
		case err != nil:
			return err
		case r.TemplateID == 0:
			return model.Invalid("template_id", "请先向签字人完整展示知情同意书（第 %d 版）再签署", tpl.Revision)
		case r.TemplateID != tpl.ID:
			return model.Conflict("consent.template_changed", "知情同意书已更新为第 %d 版，请重新展示全文后签署", tpl.Revision)
		}
		cs = &model.Consent{PatientID: c.PatientID, CourseID: c.ID, ProjectID: c.ProjectID, TemplateVersion: tpl.Label(p.Code),
			SignerName: r.SignerName, SignerRelation: r.SignerRelation, SignaturePath: path, SignatureSHA256: sum, WitnessID: r.WitnessID,
			TemplateID: tpl.ID, TextSM3: tpl.TextSM3}
		cs.InstitutionID = c.InstitutionID
		if err := tx.insert(cs); err != nil {
			return err
		}
		t := tx.now
		cs.SignedAt = &t
		cs.ContentHash = hashOf(cs.TemplateVersion, fmt.Sprint(cs.PatientID), fmt.Sprint(cs.CourseID), cs.SignerName,
			cs.SignerRelation, sum, formatTime(t), cs.TextSM3)
		return tx.transition(cs, model.ConsentSigned, "e-signature")
	})
	return cs, err
}

// RevokeConsent withdraws a consent; later sessions need a new one.
func (db *DB) RevokeConsent(ctx context.Context, id int64) (*model.Consent, error) {
	var cs *model.Consent
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if cs, err = get[model.Consent](tx, id); err != nil {
			return err
		}
		t := tx.now
		cs.RevokedAt = &t
		return tx.transition(cs, model.ConsentRevoked, "revoke")
	})
	return cs, err
}

// StartSession starts a treatment for a queue ticket, after the payment
// re-check with the HIS and the consent guard.
//
// The re-check's answer is recorded even when it refuses the start, and a
// refund or reversal the HIS reports is applied to the order: both are facts
// from the HIS, not part of the refused change.
func (db *DB) StartSession(ctx context.Context, r model.StartSession) (*model.Session, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if db.HIS == nil {
		return nil, model.Errorf(model.EINTERNAL, "HIS adapter not configured")
	}
	// Find the order to charge before asking the HIS, outside the write.
	tk, err := getRow[model.QueueTicket](ctx, db.q(ctx), r.TicketID)
	if err != nil {
		return nil, err
	}
	c, err := getRow[model.Course](ctx, db.q(ctx), tk.CourseID)
	if err != nil {
		return nil, err
	}
	o, err := findRow[model.Order](ctx, db.q(ctx), `application_id = ? AND status = 'paid' AND used_quantity +
 (SELECT COUNT(*) FROM treatment_session s WHERE s.order_id = his_order.id AND s.status = 'in_progress') < quantity ORDER BY id LIMIT 1`, c.ApplicationID)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, model.Conflict("order.not_paid", "没有已缴费且未使用的医嘱，不能执行治疗 (no paid order left)")
	} else if err != nil {
		return nil, err
	}
	hisStatus, err := db.HIS.CheckPayment(ctx, o.InstitutionID, o.OrderNo)
	if err != nil {
		return nil, model.Errorf(model.EINTERNAL, "HIS 确费失败 (payment re-check failed): %v", err)
	}
	var s *model.Session
	var refused error
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.self("performer_id", r.PerformerID); err != nil {
			return err
		}
		o, err := get[model.Order](tx, o.ID)
		if err != nil {
			return err
		}
		pc := &model.PaymentCheck{OrderID: o.ID, OrderNo: o.OrderNo, CourseID: c.ID, PatientID: c.PatientID, Result: hisStatus,
			Source: db.HIS.Name(), CheckedAt: tx.now}
		pc.InstitutionID = o.InstitutionID
		if err := tx.insert(pc); err != nil {
			return err
		}
		if hisStatus != model.OrderPaid {
			if o.Status == model.OrderPaid && hisStatus == model.OrderRefunded {
				if err := tx.refund(o, 0, "payment re-check"); err != nil {
					return err
				}
			}
			refused = model.Conflict("order.not_paid", "再次确费未通过：HIS 显示医嘱 %s 为 %s，不能执行 (payment re-check refused)", o.OrderNo, hisStatus)
			return nil
		}
		s, err = tx.startSession(r, o, pc)
		return err
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (tx *Tx) startSession(r model.StartSession, o *model.Order, pc *model.PaymentCheck) (*model.Session, error) {
	tk, err := get[model.QueueTicket](tx, r.TicketID)
	if err != nil {
		return nil, err
	}
	c, err := get[model.Course](tx, tk.CourseID)
	if err != nil {
		return nil, err
	}
	if c.Status != model.CourseActive {
		return nil, model.Conflict("course.not_active", "疗程状态为 %s，不能执行 (course not active)", c.Status)
	}
	if o.Status != model.OrderPaid || o.UsedQuantity >= o.Quantity {
		return nil, model.Conflict("order.not_paid", "医嘱 %s 已无可用的已缴费次数 (order not paid or used up)", o.OrderNo)
	}
	staff, err := get[model.Staff](tx, r.PerformerID)
	if err != nil || staff.DeptID != c.DeptID || !staff.Active {
		return nil, model.Invalid("performer_id", "执行人必须是本科室在岗人员 (performer of another department)")
	}
	room, err := get[model.Room](tx, r.RoomID)
	if err != nil || room.DeptID != c.DeptID {
		return nil, model.Invalid("room_id", "治疗室必须属于本科室 (room of another department)")
	}
	p, err := get[model.Project](tx, c.ProjectID)
	if err != nil {
		return nil, err
	}
	var consentID *int64
	if p.NeedsConsent {
		cs, err := findRow[model.Consent](tx.ctx, tx, "course_id = ? AND status = 'signed' ORDER BY id DESC LIMIT 1", c.ID)
		if model.ErrorCode(err) == model.ENOTFOUND {
			return nil, model.Conflict("consent.required", "项目 %s 需要已签署的知情同意书，不能开始治疗 (signed consent required)", p.Name)
		} else if err != nil {
			return nil, err
		}
		consentID = &cs.ID
	}
	t := tx.now
	tk.StartedAt = &t
	if err := tx.transition(tk, model.TicketInTreatment, "start"); err != nil {
		return nil, err
	}
	var seq int64
	if err := tx.queryRow("SELECT COUNT(*) + 1 FROM treatment_session WHERE course_id = ?", c.ID).Scan(&seq); err != nil {
		return nil, err
	}
	var visit string = o.VisitType
	s := &model.Session{CourseID: c.ID, AppointmentID: tk.AppointmentID, TicketID: &tk.ID, PatientID: c.PatientID, DeptID: c.DeptID,
		ProjectID: c.ProjectID, OrderID: o.ID, SeqNo: seq, PerformerID: staff.ID, RoomID: room.ID, VisitType: visit,
		PaymentCheckID: pc.ID, ConsentID: consentID, StartedAt: tx.now}
	s.InstitutionID = c.InstitutionID
	return s, tx.insert(s)
}

// CheckImageTarget refuses an image the session could not take, from the
// signed-in account, before a byte of it is read or written: the upload
// route calls it before reading the body, AddImage before storing the file.
func (db *DB) CheckImageTarget(ctx context.Context, sessionID int64, phase string) error {
	a := model.ActorFrom(ctx)
	if policy.ReadOnly(a) || policy.Administrator(a) {
		return model.Errorf(model.EFORBIDDEN, "角色 %s 不能采集影像 (role may not add images)", a.Role)
	}
	if a.Role != model.RoleSystem && a.StaffID == 0 {
		return model.Invalid("taken_by", "当前账号未绑定医护人员，不能执行临床操作 (account has no staff record)")
	}
	s, err := scoped[model.Session](ctx, db, sessionID)
	if err != nil {
		return err
	}
	return imageTarget(s, phase)
}

func imageTarget(s *model.Session, phase string) error {
	if phase == "before" && s.Status != model.SessionInProgress {
		return model.Conflict("image.session_not_running", "治疗前影像只能在治疗进行中采集")
	}
	if s.Status == model.SessionAborted {
		return model.Conflict("image.session_aborted", "治疗已中止")
	}
	return nil
}

// AddImage stores a captured image of a session.
func (db *DB) AddImage(ctx context.Context, r model.NewImage) (*model.Image, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := db.CheckImageTarget(ctx, r.SessionID, r.Phase); err != nil {
		return nil, err // refused before the file is written
	}
	ext := ".png"
	if r.ContentType == "image/jpeg" {
		ext = ".jpg"
	}
	path, sum, err := db.storeFile("images", ext, r.Data)
	if err != nil {
		return nil, err
	}
	var img *model.Image
	err = db.write(ctx, func(tx *Tx) error {
		if err := tx.self("taken_by", r.TakenBy); err != nil {
			return err
		}
		s, err := get[model.Session](tx, r.SessionID)
		if err != nil {
			return err
		}
		if err := imageTarget(s, r.Phase); err != nil {
			return err
		}
		img = &model.Image{SessionID: s.ID, PatientID: s.PatientID, Phase: r.Phase, Path: path, SHA256: sum,
			SizeBytes: int64(len(r.Data)), ContentType: r.ContentType, TakenBy: r.TakenBy, TakenAt: tx.now}
		img.InstitutionID = s.InstitutionID
		return tx.insert(img)
	})
	return img, err
}

// CompleteSession ends a treatment: the charge is confirmed against the order,
// the appointment and ticket close, a draft record is written, and the course
// completes (with its follow-up plan) when this was its last session.
func (db *DB) CompleteSession(ctx context.Context, r model.CompleteSession) (*model.Session, *model.Record, error) {
	if err := r.Validate(); err != nil {
		return nil, nil, err
	}
	var s *model.Session
	var rec *model.Record
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if s, err = get[model.Session](tx, r.SessionID); err != nil {
			return err
		}
		p, err := get[model.Project](tx, s.ProjectID)
		if err != nil {
			return err
		}
		if err := model.ValidateRecordContent(p.Category, r.RecordContent); err != nil {
			return err
		}
		if p.NeedsImages && s.Status == model.SessionInProgress {
			var before, after int
			if err := tx.queryRow("SELECT COUNT(CASE WHEN phase = 'before' THEN 1 END), COUNT(CASE WHEN phase = 'after' THEN 1 END) FROM image WHERE session_id = ?",
				s.ID).Scan(&before, &after); err != nil {
				return err
			}
			if before == 0 || after == 0 {
				return model.Conflict("images.required", "项目 %s 需要治疗前后影像 (before and after images required)", p.Name)
			}
		}
		o, err := get[model.Order](tx, s.OrderID)
		if err != nil {
			return err
		}
		t := tx.now
		s.EndedAt, s.Units, s.AdverseReaction = &t, r.Units, r.AdverseReaction
		s.ChargeFen, s.ChargeConfirmed = o.UnitPriceFen, true
		if err := tx.transition(s, model.SessionCompleted, "complete"); err != nil {
			return err
		}
		if o.Status != model.OrderPaid {
			return model.Conflict("order.not_paid", "医嘱 %s 已退费，不能确认收费 (order refunded during treatment)", o.OrderNo)
		}
		o.UsedQuantity++
		if err := tx.update(o); err != nil {
			return err
		}
		if s.TicketID != nil {
			tk, err := get[model.QueueTicket](tx, *s.TicketID)
			if err != nil {
				return err
			}
			tk.FinishedAt = &t
			if err := tx.transition(tk, model.TicketDone, "complete"); err != nil {
				return err
			}
		}
		if s.AppointmentID != nil {
			a, err := get[model.Appointment](tx, *s.AppointmentID)
			if err != nil {
				return err
			}
			if err := tx.transition(a, model.ApptCompleted, "complete"); err != nil {
				return err
			}
		}
		pat, err := get[model.Patient](tx, s.PatientID)
		if err != nil {
			return err
		}
		rec = &model.Record{SessionID: s.ID, CourseID: s.CourseID, PatientID: s.PatientID, DeptID: s.DeptID, ProjectID: s.ProjectID,
			ProjectCode: p.Code, ProjectName: p.Name, PatientName: pat.Name, Kind: "treatment", Content: r.RecordContent,
			AuthorID: s.PerformerID, TreatedAt: s.StartedAt, DueAt: t.Add(recordDeadline)}
		rec.InstitutionID = s.InstitutionID
		if err := tx.insert(rec); err != nil {
			return err
		}
		c, err := get[model.Course](tx, s.CourseID)
		if err != nil {
			return err
		}
		c.DoneSessions++
		if c.DoneSessions < c.PlannedSessions {
			return tx.update(c)
		}
		return tx.completeCourse(c, p)
	})
	return s, rec, err
}

// completeCourse closes a course after its last session and generates the
// follow-up tasks of the project's plan.
func (tx *Tx) completeCourse(c *model.Course, p *model.Project) error {
	t := tx.now
	c.EndedAt = &t
	if err := tx.transition(c, model.CourseCompleted, "last session"); err != nil {
		return err
	}
	app, err := get[model.Application](tx, c.ApplicationID)
	if err != nil {
		return err
	}
	if err := tx.transition(app, model.AppCompleted, "course completed"); err != nil {
		return err
	}
	days, err := ParseFollowupDays(p.FollowupDays)
	if err != nil {
		return err
	}
	for _, d := range days {
		f := &model.Followup{CourseID: c.ID, PatientID: c.PatientID, DeptID: c.DeptID, ProjectID: c.ProjectID, DayOffset: d,
			DueDate: model.DayOf(t.AddDate(0, 0, int(d))), Channel: "wechat"}
		f.InstitutionID = c.InstitutionID
		if err := tx.insert(f); err != nil {
			return err
		}
	}
	return nil
}

// AbortSession stops a treatment that cannot go on; the patient goes back to
// the queue and nothing is charged.
func (db *DB) AbortSession(ctx context.Context, id int64, reason string) (*model.Session, error) {
	if strings.TrimSpace(reason) == "" || len(reason) > 500 {
		return nil, model.Invalid("reason", "中止原因不能为空且不超过 500 字节")
	}
	var s *model.Session
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if s, err = get[model.Session](tx, id); err != nil {
			return err
		}
		t := tx.now
		s.EndedAt, s.AbortReason = &t, reason
		if err := tx.transition(s, model.SessionAborted, reason); err != nil {
			return err
		}
		if s.TicketID == nil {
			return nil
		}
		tk, err := get[model.QueueTicket](tx, *s.TicketID)
		if err != nil {
			return err
		}
		return tx.transition(tk, model.TicketWaiting, "aborted: "+reason)
	})
	return s, err
}

// SignRecord e-signs a draft record as the session's clinician: SignHash is
// the SM3 digest of its canonical content, signer and time, and on a core
// with keys the signer's SM2 key signs it (records.go).
func (db *DB) SignRecord(ctx context.Context, recordID, signerID int64) (*model.Record, error) {
	if signerID <= 0 {
		return nil, model.Invalid("signer_id", "签名人不能为空")
	}
	var rec *model.Record
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.self("signer_id", signerID); err != nil {
			return err
		}
		var err error
		if rec, err = get[model.Record](tx, recordID); err != nil {
			return err
		}
		signer, err := get[model.Staff](tx, signerID)
		if err != nil || signer.DeptID != rec.DeptID {
			return model.Invalid("signer_id", "签名人必须是本科室人员 (signer of another department)")
		}
		t := tx.now
		rec.SignerID, rec.SignedAt = &signerID, &t
		rec.Signatures++
		digest := recordDigest(rec)
		rec.SignHash = hex.EncodeToString(digest)
		if err := tx.signRecord(rec, digest); err != nil {
			return err
		}
		return tx.transition(rec, model.RecordSigned, "sign")
	})
	return rec, err
}

// AmendRecord changes a record's content. A signed record returns to draft
// and must be signed again; an archived one is locked.
func (db *DB) AmendRecord(ctx context.Context, recordID int64, content string) (*model.Record, error) {
	if strings.TrimSpace(content) == "" || len(content) > 64<<10 {
		return nil, model.Invalid("content", "记录内容不能为空且不超过 64 KiB")
	}
	var rec *model.Record
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if rec, err = get[model.Record](tx, recordID); err != nil {
			return err
		}
		if rec.Status == model.RecordArchived {
			return model.CheckTransition("record", rec.Status, model.RecordDraft)
		}
		p, err := get[model.Project](tx, rec.ProjectID)
		if err != nil {
			return err
		}
		if err := model.ValidateRecordContent(p.Category, content); err != nil {
			return err
		}
		rec.Content = content
		if rec.Status == model.RecordDraft {
			return tx.update(rec)
		}
		rec.SignHash = ""
		return tx.transition(rec, model.RecordDraft, "amend")
	})
	return rec, err
}
