package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/zhiliao/zhiliao/model"
)

// Defect kinds the synthetic generator may write, each named after the
// rating rule (RATING.md) it makes a unit fail. Real first-year data fails
// these rules because interfaces and legacy workstations wrote it; the
// lifecycle services never do, so the generator needs this one door.
const (
	DefectRecordName    = "record.name_mismatch"  // 06.01.3 一致性: a project name that is not the dictionary's
	DefectRecordBlank   = "record.blank_patient"  // 06.01.4 完整性: a patient name of spaces only (U+3000 included)
	DefectSessionNoEnd  = "session.no_end_time"   // 06.01.5 完整性: the execution lost its end time
	DefectSessionNoPlan = "session.wrong_plan"    // 06.01.5 整合性: the execution names another patient's plan (value: its course id)
	DefectApptUnplanned = "appointment.unplanned" // 06.01.6 完整性: booked under a project its plan does not prescribe (value: that project's id)
)

// InjectDefect spoils one row as kind says, writing the change and its
// outbox event in one transaction like every other write. Only the
// synthetic generator calls it (no API route reaches it): it is how
// generated data comes to fail rating rules the way a real hospital's does,
// with the generator knowing exactly which units it spoiled.
func (db *DB) InjectDefect(ctx context.Context, kind string, id int64, value string) error {
	return db.write(ctx, func(tx *Tx) error {
		switch kind {
		case DefectRecordName, DefectRecordBlank:
			rec, err := get[model.Record](tx, id)
			if err != nil {
				return err
			}
			if kind == DefectRecordName {
				rec.ProjectName = value
			} else {
				rec.PatientName = value
			}
			return tx.update(rec)
		case DefectSessionNoEnd, DefectSessionNoPlan:
			s, err := get[model.Session](tx, id)
			if err != nil {
				return err
			}
			switch kind {
			case DefectSessionNoEnd:
				s.EndedAt = nil
			default:
				other, err := strconv.ParseInt(value, 10, 64)
				if err != nil {
					return model.Invalid("value", "want the id of another patient's course, got %q", value)
				}
				s.CourseID = other
			}
			return tx.update(s)
		case DefectApptUnplanned:
			a, err := get[model.Appointment](tx, id)
			if err != nil {
				return err
			}
			other, err := strconv.ParseInt(value, 10, 64)
			if err != nil || other == a.ProjectID {
				return model.Invalid("value", "want the id of a project other than the planned one, got %q", value)
			}
			if _, err := get[model.Project](tx, other); err != nil {
				return err
			}
			// Only the appointment's own project changes: check-in, the queue
			// and the execution follow the course, as they do for a booking a
			// legacy registration system wrote under the wrong item.
			a.ProjectID = other
			return tx.update(a)
		}
		return model.Invalid("kind", "unknown defect kind %q", kind)
	})
}

// RenameProject changes a project's name in the dictionary. Records already
// written keep the name they were written with, which is what the 06.01.3
// 一致性 rule then finds.
func (db *DB) RenameProject(ctx context.Context, projectID int64, name string) (*model.Project, error) {
	if name == "" || len([]rune(name)) > 100 {
		return nil, model.Invalid("name", "项目名称应为 1–100 个字符")
	}
	var p *model.Project
	err := db.write(ctx, func(tx *Tx) error {
		var err error
		if p, err = findRow[model.Project](tx.ctx, tx, "id = ?", projectID); err != nil {
			return fmt.Errorf("project %d: %w", projectID, err)
		}
		p.Name = name
		return tx.update(p)
	})
	return p, err
}
