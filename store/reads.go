package store

import (
	"context"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// Record returns a treatment record by id.
func (db *DB) Record(ctx context.Context, id int64) (*model.Record, error) {
	return getRow[model.Record](ctx, db.q(ctx), id)
}

// Appointment returns an appointment by id.
func (db *DB) Appointment(ctx context.Context, id int64) (*model.Appointment, error) {
	return getRow[model.Appointment](ctx, db.q(ctx), id)
}

// Slot returns a slot by id.
func (db *DB) Slot(ctx context.Context, id int64) (*model.Slot, error) {
	return getRow[model.Slot](ctx, db.q(ctx), id)
}

// Course returns a course by id.
func (db *DB) Course(ctx context.Context, id int64) (*model.Course, error) {
	return getRow[model.Course](ctx, db.q(ctx), id)
}

// OpenSlots lists bookable slots of a department on a day that start after
// `after`, for a project (slots reserved for other projects are left out).
func (db *DB) OpenSlots(ctx context.Context, deptID, projectID int64, day string, after time.Time, limit int) ([]*model.Slot, error) {
	return listRows[model.Slot](ctx, db.q(ctx), `dept_id = ? AND day = ? AND status = 'open' AND booked < capacity
AND (project_id IS NULL OR project_id = ?) AND start_at > ? ORDER BY start_at, id LIMIT ?`, deptID, day, projectID, formatTime(after), limit)
}

// FollowupsDue lists pending follow-ups of an institution due on a day.
func (db *DB) FollowupsDue(ctx context.Context, institutionID int64, day string) ([]*model.Followup, error) {
	return listRows[model.Followup](ctx, db.q(ctx), "institution_id = ? AND due_date = ? AND status = 'pending' ORDER BY id", institutionID, day)
}

// QueuedNotifications lists notifications waiting for a channel adapter.
func (db *DB) QueuedNotifications(ctx context.Context, limit int) ([]*model.Notification, error) {
	return listRows[model.Notification](ctx, db.q(ctx), "status = 'queued' ORDER BY id LIMIT ?", limit)
}
