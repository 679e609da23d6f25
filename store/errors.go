package store

// mapConstraint turns a constraint violation of the database into a domain
// error: the database is the last line of defence for capacity and
// uniqueness, and its refusals must reach users as conflicts, not 500s.
// Each engine recognises its own driver's errors (Engine.Violation); the
// rule names are the same on both.
func mapConstraint(entity string, err error) error {
	if err == nil {
		return nil
	}
	for _, e := range engines(nil) {
		if _, ok := e.Violation(err); ok {
			return mapViolation(e, entity, err)
		}
	}
	return err
}
