package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/zhiliao/zhiliao/model"
)

var _ model.ApplicationService = (*DB)(nil)

// CreateApplication merges one or more paid, unapplied orders of one patient
// and one project into a treatment application.
func (db *DB) CreateApplication(ctx context.Context, r model.NewApplication) (*model.Application, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var app *model.Application
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.self("applied_by", r.AppliedBy); err != nil {
			return err
		}
		ids := append([]int64(nil), r.OrderIDs...)
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		var orders []*model.Order
		for i, id := range ids {
			if i > 0 && ids[i-1] == id {
				return model.Invalid("order_ids", "医嘱 %d 重复 (duplicate order id)", id)
			}
			o, err := get[model.Order](tx, id)
			if err != nil {
				return err
			}
			switch {
			case o.Status != model.OrderPaid:
				return model.Conflict("order.not_paid", "医嘱 %s 未缴费或已退费，不能申请治疗 (order is %s)", o.OrderNo, o.Status)
			case o.ApplicationID != nil:
				return model.Conflict("order.applied", "医嘱 %s 已纳入其他治疗申请", o.OrderNo)
			case len(orders) > 0 && o.PatientID != orders[0].PatientID:
				return model.Conflict("application.mixed_patients", "合并申请的医嘱必须属于同一患者 (orders of different patients)")
			case len(orders) > 0 && o.ProjectID != orders[0].ProjectID:
				return model.Conflict("application.mixed_projects", "合并申请的医嘱必须是同一治疗项目 (orders of different projects)")
			}
			orders = append(orders, o)
		}
		first := orders[0]
		app = &model.Application{PatientID: first.PatientID, DeptID: first.DeptID, ProjectID: first.ProjectID,
			VisitType: first.VisitType, DiagnosisCode: first.DiagnosisCode, AppliedBy: r.AppliedBy, AppliedAt: tx.now, Note: r.Note}
		app.InstitutionID = first.InstitutionID
		for _, o := range orders {
			app.Sessions += o.Quantity
		}
		if err := tx.insert(app); err != nil {
			return err
		}
		for _, o := range orders {
			o.ApplicationID = &app.ID
			if err := tx.update(o); err != nil {
				return err
			}
		}
		return nil
	})
	return app, err
}

// AddAssessment records a structured assessment; an initial one moves a
// submitted application to assessed.
func (db *DB) AddAssessment(ctx context.Context, r model.NewAssessment) (*model.Assessment, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var a *model.Assessment
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.self("assessor_id", r.AssessorID); err != nil {
			return err
		}
		app, err := get[model.Application](tx, r.ApplicationID)
		if err != nil {
			return err
		}
		p, err := get[model.Project](tx, app.ProjectID)
		if err != nil {
			return err
		}
		answers, _ := json.Marshal(r.Answers)
		a = &model.Assessment{ApplicationID: app.ID, PatientID: app.PatientID, DeptID: app.DeptID, Kind: r.Kind,
			Template: p.AssessmentTemplate, Answers: string(answers), Score: r.Score, AssessorID: r.AssessorID, AssessedAt: tx.now}
		a.InstitutionID = app.InstitutionID
		if r.Kind != "initial" {
			c, err := findRow[model.Course](tx.ctx, tx, "application_id = ?", app.ID)
			if err != nil {
				return model.Conflict("assessment.no_course", "中期/末次评估需要已制定的疗程 (no course yet)")
			}
			a.CourseID = &c.ID
		} else if app.Status != model.AppSubmitted {
			return model.Conflict("assessment.initial_done", "该申请已完成初次评估 (initial assessment exists)")
		}
		if err := tx.insert(a); err != nil {
			return err
		}
		if r.Sign {
			t := tx.now
			a.SignedAt = &t
			if err := tx.transition(a, model.AssessmentSigned, "sign"); err != nil {
				return err
			}
		}
		if r.Kind == "initial" {
			t := tx.now
			app.AssessedAt = &t
			return tx.transition(app, model.AppAssessed, "assessment")
		}
		return nil
	})
	return a, err
}

// PlanCourse turns an assessed application into a course of its sessions.
func (db *DB) PlanCourse(ctx context.Context, applicationID, plannedBy int64) (*model.Course, error) {
	var c *model.Course
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.self("planned_by", plannedBy); err != nil {
			return err
		}
		app, err := get[model.Application](tx, applicationID)
		if err != nil {
			return err
		}
		if app.Status == model.AppSubmitted {
			return model.Conflict("application.not_assessed", "治疗申请尚未评估，不能制定疗程 (assess first)")
		}
		t := tx.now
		app.PlannedAt = &t
		if err := tx.transition(app, model.AppPlanned, "plan"); err != nil {
			return err
		}
		c = &model.Course{ApplicationID: app.ID, PatientID: app.PatientID, DeptID: app.DeptID, ProjectID: app.ProjectID,
			PlannedSessions: app.Sessions, PlannedBy: plannedBy, StartedAt: tx.now}
		c.InstitutionID = app.InstitutionID
		return tx.insert(c)
	})
	return c, err
}

// CancelCourse stops a course: its open appointments are cancelled and its
// application closes.
func (db *DB) CancelCourse(ctx context.Context, courseID int64, reason string) (*model.Course, error) {
	var c *model.Course
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if c, err = get[model.Course](tx, courseID); err != nil {
			return err
		}
		if err := tx.transition(c, model.CourseCancelled, reason); err != nil {
			return err
		}
		t := tx.now
		c.EndedAt = &t
		if err := tx.update(c); err != nil {
			return err
		}
		appts, err := listRows[model.Appointment](tx.ctx, tx, "course_id = ? AND status IN ('booked', 'checked_in')", c.ID)
		if err != nil {
			return err
		}
		for _, a := range appts {
			if err := tx.cancelAppointment(a, "疗程取消: "+reason); err != nil {
				return err
			}
		}
		app, err := get[model.Application](tx, c.ApplicationID)
		if err != nil {
			return err
		}
		return tx.transition(app, model.AppCancelled, reason)
	})
	return c, err
}

// ArchiveCourse locks a finished course's records. Every record must be signed.
func (db *DB) ArchiveCourse(ctx context.Context, courseID int64) (*model.Course, error) {
	var c *model.Course
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if c, err = get[model.Course](tx, courseID); err != nil {
			return err
		}
		if c.Status == model.CourseActive {
			return model.Conflict("course.active", "疗程尚未结束，不能归档 (course still active)")
		}
		recs, err := listRows[model.Record](tx.ctx, tx, "course_id = ? ORDER BY id", c.ID)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Status == model.RecordDraft {
				return model.Conflict("record.unsigned", "治疗记录 %d 未签名，不能归档 (unsigned record)", r.ID)
			}
		}
		t := tx.now
		for _, r := range recs {
			if r.Status == model.RecordArchived {
				continue
			}
			r.ArchivedAt = &t
			if err := tx.transition(r, model.RecordArchived, "archive course"); err != nil {
				return err
			}
		}
		c.ArchivedAt = &t
		return tx.transition(c, model.CourseArchived, fmt.Sprintf("%d records", len(recs)))
	})
	return c, err
}
