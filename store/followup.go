package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zhiliao/zhiliao/model"
)

var _ model.FollowupService = (*DB)(nil)

// CompleteFollowup records a follow-up as done; with scores it also files the
// patient's answered satisfaction survey, linked to the follow-up.
func (db *DB) CompleteFollowup(ctx context.Context, id int64, r model.FollowupResult) (*model.Followup, *model.Survey, error) {
	if err := r.Validate(); err != nil {
		return nil, nil, err
	}
	var f *model.Followup
	var sv *model.Survey
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.self("done_by", r.DoneBy); err != nil {
			return err
		}
		var err error
		if f, err = get[model.Followup](tx, id); err != nil {
			return err
		}
		t := tx.now
		f.DoneAt, f.DoneBy, f.Result = &t, r.DoneBy, r.Result
		if r.Via != "" {
			f.Channel = r.Via
		}
		if err := tx.transition(f, model.FollowupDone, "complete"); err != nil {
			return err
		}
		if r.Scores == nil {
			return nil
		}
		sv = &model.Survey{PatientID: f.PatientID, CourseID: f.CourseID, FollowupID: &f.ID, DeptID: f.DeptID, ProjectID: f.ProjectID,
			Channel: r.Channel, SentAt: tx.now}
		sv.InstitutionID = f.InstitutionID
		if err := tx.insert(sv); err != nil {
			return err
		}
		return tx.answer(sv, r.Scores, r.Comment)
	})
	return f, sv, err
}

// MissFollowup records that the patient could not be reached.
func (db *DB) MissFollowup(ctx context.Context, id int64) (*model.Followup, error) {
	var f *model.Followup
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if f, err = get[model.Followup](tx, id); err != nil {
			return err
		}
		return tx.transition(f, model.FollowupMissed, "unreachable")
	})
	return f, err
}

// SendSurvey sends a satisfaction survey for a course.
func (db *DB) SendSurvey(ctx context.Context, courseID int64, channel string) (*model.Survey, error) {
	if channel != "electronic" && channel != "paper" && channel != "phone" {
		return nil, model.Invalid("channel", "问卷渠道必须是 electronic/paper/phone")
	}
	var sv *model.Survey
	err := db.write(ctx, func(tx *Tx) error {
		c, err := get[model.Course](tx, courseID)
		if err != nil {
			return err
		}
		sv = &model.Survey{PatientID: c.PatientID, CourseID: c.ID, DeptID: c.DeptID, ProjectID: c.ProjectID, Channel: channel, SentAt: tx.now}
		sv.InstitutionID = c.InstitutionID
		if err := tx.insert(sv); err != nil {
			return err
		}
		if channel == "electronic" {
			return tx.notify(c.InstitutionID, c.PatientID, model.NotifyFollowup, false, "survey", sv.ID, "请您对本次治疗服务进行满意度评价。")
		}
		return nil
	})
	return sv, err
}

// AnswerSurvey records a patient's answers.
func (db *DB) AnswerSurvey(ctx context.Context, id int64, scores map[string]int64, comment string) (*model.Survey, error) {
	if err := model.ValidateScores(scores); err != nil {
		return nil, err
	}
	if len(comment) > 4000 {
		return nil, model.Invalid("comment", "意见过长")
	}
	var sv *model.Survey
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if sv, err = get[model.Survey](tx, id); err != nil {
			return err
		}
		return tx.answer(sv, scores, comment)
	})
	return sv, err
}

func (tx *Tx) answer(sv *model.Survey, scores map[string]int64, comment string) error {
	b, _ := json.Marshal(scores) // map keys marshal sorted: stable payloads
	t := tx.now
	sv.Scores, sv.Comment, sv.AnsweredAt = string(b), comment, &t
	return tx.transition(sv, model.SurveyAnswered, "answer")
}

// FileComplaint records a complaint.
func (db *DB) FileComplaint(ctx context.Context, r model.NewComplaint) (*model.Complaint, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var cp *model.Complaint
	err := db.write(ctx, func(tx *Tx) error {
		p, err := get[model.Patient](tx, r.PatientID)
		if err != nil {
			return err
		}
		if err := sameInstitution[model.Department](tx, r.DeptID, p.InstitutionID, "dept_id"); err != nil {
			return err
		}
		if r.CourseID != nil {
			// A complaint may name only a course of the patient it is about:
			// a patient's link cannot reach into another patient's care.
			c, err := findRow[model.Course](tx.ctx, tx, "id = ?", *r.CourseID)
			if err != nil || c.PatientID != p.ID {
				return model.Invalid("course_id", "疗程 %d 不属于该患者 (course of another patient)", *r.CourseID)
			}
		}
		cp = &model.Complaint{PatientID: p.ID, DeptID: r.DeptID, CourseID: r.CourseID, Category: r.Category, Channel: r.Channel,
			Content: r.Content, ReceivedAt: tx.now}
		cp.InstitutionID = p.InstitutionID
		return tx.insert(cp)
	})
	return cp, err
}

// ReplyComplaint answers a complaint.
func (db *DB) ReplyComplaint(ctx context.Context, id, staffID int64, reply string) (*model.Complaint, error) {
	if strings.TrimSpace(reply) == "" || len(reply) > 4000 {
		return nil, model.Invalid("reply", "回复不能为空且不超过 4000 字节")
	}
	var cp *model.Complaint
	err := db.write(ctx, func(tx *Tx) error {
		if err := tx.self("replied_by", staffID); err != nil {
			return err
		}
		var err error
		if cp, err = get[model.Complaint](tx, id); err != nil {
			return err
		}
		t := tx.now
		cp.RepliedAt, cp.RepliedBy, cp.Reply = &t, staffID, reply
		return tx.transition(cp, model.ComplaintReplied, "reply")
	})
	return cp, err
}

// QueueReminders queues a reminder for every appointment still booked on day.
// Running it twice for a day queues nothing new.
func (db *DB) QueueReminders(ctx context.Context, institutionID int64, day string) (int, error) {
	return db.QueueDeptReminders(ctx, institutionID, 0, day)
}

// QueueDeptReminders is QueueReminders for one department (0: all).
func (db *DB) QueueDeptReminders(ctx context.Context, institutionID, deptID int64, day string) (int, error) {
	d, err := model.ParseDay("day", day)
	if err != nil {
		return 0, err
	}
	from, to := formatTime(d.Add(-8*3600e9)), formatTime(d.Add(16*3600e9)) // the local day in UTC
	n := 0
	err = db.write(ctx, func(tx *Tx) error {
		appts, err := listRows[model.Appointment](tx.ctx, tx, `institution_id = ? AND (? = 0 OR dept_id = ?) AND status = 'booked' AND planned_at >= ? AND planned_at < ?
AND NOT EXISTS (SELECT 1 FROM notification n WHERE n.ref_entity = 'appointment' AND n.ref_id = appointment.id AND n.kind = 'reminder')
ORDER BY id`, institutionID, deptID, deptID, from, to)
		if err != nil {
			return err
		}
		for _, a := range appts {
			msg := fmt.Sprintf("提醒：您今天 %s 有治疗预约，预约号 %s。", a.PlannedAt.In(model.Local).Format("15:04"), a.ReceiptNo)
			if err := tx.notify(a.InstitutionID, a.PatientID, model.NotifyReminder, false, "appointment", a.ID, msg); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// MarkNotification records a channel adapter's delivery result.
func (db *DB) MarkNotification(ctx context.Context, id int64, sent bool, errText string) (*model.Notification, error) {
	var n *model.Notification
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if n, err = get[model.Notification](tx, id); err != nil {
			return err
		}
		n.Attempts++
		if sent {
			t := tx.now
			n.SentAt, n.LastError = &t, ""
			return tx.transition(n, model.NotifySent, "delivered")
		}
		n.LastError = errText
		return tx.transition(n, model.NotifyFailed, "failed")
	})
	return n, err
}
