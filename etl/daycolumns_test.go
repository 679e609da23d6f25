package etl

import (
	"testing"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
)

// TestDayColumnsExist: every day column names a real time or day field, so
// a renamed field cannot silently stop incremental runs from seeing changes.
func TestDayColumnsExist(t *testing.T) {
	for entity, cols := range dayColumns {
		tb := warehouse.TableOf(entity)
		if tb == nil {
			t.Errorf("no entity %q", entity)
			continue
		}
		for _, c := range cols {
			i, ok := tb.FieldIndex[c]
			if !ok {
				t.Errorf("%s has no column %s", entity, c)
				continue
			}
			if k := tb.Columns[i].Kind; k != model.KindTime && k != model.KindNullTime && k != model.KindString {
				t.Errorf("%s.%s is not a time or day", entity, c)
			}
		}
	}
}
