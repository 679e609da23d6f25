package store

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/zhiliao/zhiliao/model"
)

// mapConstraint turns a constraint violation of the database into a domain
// error: the database is the last line of defence for capacity and
// uniqueness, and its refusals must reach users as conflicts, not 500s.
func mapConstraint(entity string, err error) error {
	if err == nil {
		return nil
	}
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) {
		return mapPostgres(entity, pe)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "record_archived_immutable"):
		return model.Conflict("record.archived_immutable", "治疗记录已归档，不能修改 (archived records are locked)")
	case strings.Contains(msg, "UNIQUE constraint failed"):
		cols := msg[strings.Index(msg, "UNIQUE constraint failed")+len("UNIQUE constraint failed: "):]
		if i := strings.Index(cols, " ("); i >= 0 {
			cols = cols[:i]
		}
		return model.Conflict(entity+".duplicate", "%s重复 (duplicate %s)", model.EntityLabel(entity), cols)
	case strings.Contains(msg, "CHECK constraint failed"):
		name := msg[strings.Index(msg, "CHECK constraint failed")+len("CHECK constraint failed: "):]
		if i := strings.Index(name, " ("); i >= 0 {
			name = name[:i]
		}
		return model.Conflict(entity+"."+name, "%s违反规则 %s (constraint %s)", model.EntityLabel(entity), name, name)
	case strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return model.Invalid(entity, "%s引用的记录不存在 (dangling reference)", model.EntityLabel(entity))
	}
	return err
}
