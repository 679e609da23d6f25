package store

import (
	"context"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// DueNotifications lists the notices a channel adapter should try now:
// every queued one, and every failed one whose wait after its last attempt
// (backoff of its attempts so far) has passed, oldest first, with the
// patient's phone and masked name. It reads as the service, across the
// institutions of this core.
func (db *DB) DueNotifications(ctx context.Context, backoff func(attempts int64) time.Duration, limit int) ([]model.OutgoingNotice, error) {
	now := db.Now()
	queued, err := listRows[model.Notification](ctx, db.q(ctx), "status = ? ORDER BY id LIMIT ?", model.NotifyQueued, limit)
	if err != nil {
		return nil, err
	}
	failed, err := listRows[model.Notification](ctx, db.q(ctx), "status = ? ORDER BY updated_at, id LIMIT ?", model.NotifyFailed, limit)
	if err != nil {
		return nil, err
	}
	due := queued
	for _, n := range failed {
		if len(due) >= limit {
			break
		}
		if !n.UpdatedAt.Add(backoff(n.Attempts)).After(now) {
			due = append(due, n)
		}
	}
	var patients []int64
	for _, n := range due {
		patients = append(patients, n.PatientID)
	}
	names, err := db.column(ctx, "patient", "name", patients)
	if err != nil {
		return nil, err
	}
	phones, err := db.column(ctx, "patient", "phone", patients)
	db.openColumn("patient", "phone", phones)
	if err != nil {
		return nil, err
	}
	out := make([]model.OutgoingNotice, 0, len(due))
	for _, n := range due {
		out = append(out, model.OutgoingNotice{Notification: n, Phone: phones[n.PatientID], PatientName: model.MaskName(names[n.PatientID])})
	}
	return out, nil
}

// RecordDelivery records one delivery attempt of notice id through channel,
// in one transaction: a line of the delivery log, and the notice sent, or
// failed (to be tried again), or dead once it has failed maxAttempts times.
// A notice already sent stays sent: delivery is at least once, and a
// second report of the same notice changes nothing but the log.
func (db *DB) RecordDelivery(ctx context.Context, id int64, channel string, ok bool, errText string, maxAttempts int64) (*model.Notification, error) {
	var n *model.Notification
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if n, err = get[model.Notification](tx, id); err != nil {
			return err
		}
		okInt := 0
		if ok {
			okInt = 1
		}
		if _, err := tx.exec("INSERT INTO notification_delivery (notification_id, attempt, channel, at, ok, error) VALUES (?, ?, ?, ?, ?, ?)",
			n.ID, n.Attempts+1, channel, formatTime(tx.now), okInt, errText); err != nil {
			return err
		}
		if n.Status == model.NotifySent {
			return nil
		}
		n.Attempts++
		switch {
		case ok:
			t := tx.now
			n.SentAt, n.LastError = &t, ""
			return tx.transition(n, model.NotifySent, "delivered via "+channel)
		case n.Attempts >= maxAttempts:
			n.LastError = errText
			return tx.transition(n, model.NotifyDead, "gave up after "+channel)
		case n.Status == model.NotifyFailed:
			n.LastError = errText
			return tx.update(n) // still failed, one attempt more
		default:
			n.LastError = errText
			return tx.transition(n, model.NotifyFailed, "failed via "+channel)
		}
	})
	return n, err
}

// NoticeDeliveries is the delivery log of a notice, in attempt order.
func (db *DB) NoticeDeliveries(ctx context.Context, id int64) ([]model.NoticeDelivery, error) {
	if _, err := scoped[model.Notification](ctx, db, id); err != nil {
		return nil, err
	}
	rows, err := db.q(ctx).QueryContext(ctx, "SELECT attempt, channel, at, ok, error FROM notification_delivery WHERE notification_id = ? ORDER BY id", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.NoticeDelivery
	for rows.Next() {
		d := model.NoticeDelivery{NotificationID: id}
		var at string
		var ok int64
		if err := rows.Scan(&d.Attempt, &d.Channel, &at, &ok, &d.Error); err != nil {
			return nil, err
		}
		d.At, _ = parseTime(at)
		d.OK = ok == 1
		out = append(out, d)
	}
	return out, rows.Err()
}

// RetryNotice queues a failed or dead notice again, with its attempts
// kept: the front desk's answer once the gateway or the patient's number
// is fixed.
func (db *DB) RetryNotice(ctx context.Context, id int64) (*model.Notification, error) {
	var n *model.Notification
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if n, err = get[model.Notification](tx, id); err != nil {
			return err
		}
		return tx.transition(n, model.NotifyQueued, "retry")
	})
	return n, err
}

// NoticePrefs are the link holder's choices for every notice level.
func (db *DB) NoticePrefs(ctx context.Context) ([]model.NoticePref, error) {
	a := model.ActorFrom(ctx)
	if a.Role != model.RolePatient {
		return nil, model.Errorf(model.EFORBIDDEN, "仅限患者本人 (patient link only)")
	}
	rows, err := db.q(ctx).QueryContext(ctx, "SELECT level FROM notice_preference WHERE patient_id = ?", a.PatientID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var level string
		if err := rows.Scan(&level); err != nil {
			return nil, err
		}
		out[level] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	prefs := make([]model.NoticePref, len(model.NoticeLevels))
	for i, l := range model.NoticeLevels {
		prefs[i] = model.NoticePref{NoticeLevel: l, OptedOut: out[l.Level]}
	}
	return prefs, nil
}

// SetNoticePref opts the link holder out of a level of notices, or back in.
// The important level cannot be opted out of.
func (db *DB) SetNoticePref(ctx context.Context, level string, optedOut bool) ([]model.NoticePref, error) {
	a := model.ActorFrom(ctx)
	if a.Role != model.RolePatient {
		return nil, model.Errorf(model.EFORBIDDEN, "仅限患者本人 (patient link only)")
	}
	var lv *model.NoticeLevel
	for i := range model.NoticeLevels {
		if model.NoticeLevels[i].Level == level {
			lv = &model.NoticeLevels[i]
		}
	}
	switch {
	case lv == nil:
		return nil, model.Invalid("level", "消息级别 %q 不存在 (no such level)", level)
	case lv.Mandatory && optedOut:
		return nil, model.Conflict("notice.mandatory", "%s不可退订 (important notices cannot be opted out of)", lv.Label)
	}
	err := db.write(ctx, func(tx *Tx) error {
		if _, err := tx.exec("DELETE FROM notice_preference WHERE patient_id = ? AND level = ?", a.PatientID, level); err != nil {
			return err
		}
		if !optedOut {
			return nil
		}
		_, err := tx.exec("INSERT INTO notice_preference (patient_id, level, opted_out_at) VALUES (?, ?, ?)", a.PatientID, level, formatTime(tx.now))
		return err
	})
	if err != nil {
		return nil, err
	}
	return db.NoticePrefs(ctx)
}

// WithholdOptedOut moves the queued notices of levels their patients opted
// out of to withheld, so no channel sends them (the inbox still shows
// them). It returns how many.
func (db *DB) WithholdOptedOut(ctx context.Context) (int, error) {
	n := 0
	err := db.write(ctx, func(tx *Tx) error {
		ns, err := listRows[model.Notification](tx.ctx, tx, `status = ? AND critical = 0 AND EXISTS
 (SELECT 1 FROM notice_preference p WHERE p.patient_id = notification.patient_id AND p.level = notification.kind) ORDER BY id LIMIT 1000`, model.NotifyQueued)
		if err != nil {
			return err
		}
		for _, no := range ns {
			if err := tx.transition(no, model.NotifyWithheld, "patient opted out of "+model.LevelOf(no)); err != nil {
				return err
			}
		}
		n = len(ns)
		return nil
	})
	return n, err
}
