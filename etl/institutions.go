package etl

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// institutions resolves InstitutionKey in q: a filter on institutions
// becomes one on their departments (within any department filter already
// there), and, when q groups by institution, it returns the expression that
// gives each mart row's institution from its department.
func (r *Runner) institutions(ctx context.Context, d dialect, q *Query) (string, error) {
	ids, filter := q.Ints[InstitutionKey]
	grouped := slices.Contains(q.GroupBy, InstitutionKey)
	if !filter && !grouped {
		return "", nil
	}
	dims, err := r.Dimensions(ctx)
	if err != nil {
		return "", err
	}
	if filter {
		depts := []int64{}
		for _, dp := range dims.Departments {
			if slices.Contains(ids, dp.InstitutionID) {
				depts = append(depts, dp.ID)
			}
		}
		if asked, ok := q.Ints["dept_id"]; ok {
			depts = slices.DeleteFunc(depts, func(id int64) bool { return !slices.Contains(asked, id) })
		}
		q.Ints = maps.Clone(q.Ints) // the caller's map stays as it was
		delete(q.Ints, InstitutionKey)
		q.Ints["dept_id"] = depts
	}
	if !grouped {
		return "", nil
	}
	byInst := map[int64][]string{}
	for _, dp := range dims.Departments {
		byInst[dp.InstitutionID] = append(byInst[dp.InstitutionID], strconv.FormatInt(dp.ID, 10))
	}
	expr := "0"
	if len(byInst) > 0 {
		var b strings.Builder
		b.WriteString("CASE")
		for _, inst := range slices.Sorted(maps.Keys(byInst)) {
			b.WriteString(" WHEN dept_id IN (" + strings.Join(byInst[inst], ", ") + ") THEN " + strconv.FormatInt(inst, 10))
		}
		b.WriteString(" ELSE 0 END")
		expr = b.String()
	}
	return d.int64(expr), nil
}
