package postgres

import (
	"testing"

	"github.com/zhiliao/zhiliao/store/sqlite"
)

func TestRebindNumbersPlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":                               "SELECT 1",
		"a = ? AND b = ?":                        "a = $1 AND b = $2",
		"patient_id = ?1 AND dept_id = ?2 OR ?1": "patient_id = $1 AND dept_id = $2 OR $1",
		"LIMIT ?":                                "LIMIT $1",
	} {
		if got := (Engine{}).Rebind(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
		if got := (sqlite.Engine{}).Rebind(in); got != in {
			t.Errorf("SQLite changed %q to %q", in, got)
		}
	}
}
