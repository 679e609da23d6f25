package store

import (
	"context"

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
