package gen_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/zhiliao/zhiliao/gen"
	"github.com/zhiliao/zhiliao/store"
)

func generate(t *testing.T, preset string, seed uint64) (*store.DB, *gen.Stats) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "core.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := gen.Run(context.Background(), db, gen.Config{Preset: gen.Presets[preset], Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return db, st
}

func outboxHash(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := db.Reader().Query("SELECT seq, entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload FROM cdc_outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	h := sha256.New()
	for rows.Next() {
		var seq, id, version, tx, inst int64
		var entity, op, at, payload string
		if err := rows.Scan(&seq, &entity, &id, &op, &version, &at, &tx, &inst, &payload); err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(entity + op + at + payload))
		h.Write([]byte{byte(seq), byte(id), byte(version), byte(tx), byte(inst)})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestDeterministic: the same seed gives the same outbox content; another
// seed gives another.
func TestDeterministic(t *testing.T) {
	a, sa := generate(t, "pilot", 7)
	b, sb := generate(t, "pilot", 7)
	c, _ := generate(t, "pilot", 8)
	ha, hb, hc := outboxHash(t, a), outboxHash(t, b), outboxHash(t, c)
	if ha != hb || sa.Events != sb.Events {
		t.Fatalf("same seed, different outbox: %s (%d) vs %s (%d)", ha, sa.Events, hb, sb.Events)
	}
	if ha == hc {
		t.Fatal("different seeds gave the same outbox")
	}
}

// TestPilotLooksLikeAHospital checks the pilot's distributions against
// DESIGN.md §6 and the seed's pilot (219 treatments in three months).
func TestPilotLooksLikeAHospital(t *testing.T) {
	db, st := generate(t, "pilot", 1)
	if st.Sessions < 150 || st.Sessions > 400 {
		t.Errorf("pilot sessions %d, want hundreds (~219)", st.Sessions)
	}
	q := func(query string) float64 {
		var v float64
		if err := db.Reader().QueryRow(query).Scan(&v); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return v
	}
	noShow := q(`SELECT 1.0 * SUM(status = 'no_show') / COUNT(*) FROM appointment WHERE status IN ('no_show', 'completed', 'checked_in')`)
	if noShow < 0.05 || noShow > 0.15 {
		t.Errorf("no-show rate %.3f, want 5–15%%", noShow)
	}
	// Weekday peaks: a weekday carries several times a weekend day.
	weekday := q(`SELECT 1.0 * COUNT(*) / 5 FROM treatment_session WHERE strftime('%w', started_at, '+8 hours') BETWEEN '1' AND '5'`)
	weekend := q(`SELECT 1.0 * COUNT(*) / 2 FROM treatment_session WHERE strftime('%w', started_at, '+8 hours') IN ('0', '6')`)
	if weekday < 2*weekend {
		t.Errorf("weekday load %.1f vs weekend %.1f: no weekday peak", weekday, weekend)
	}
	// Morning clinics: more sessions start before noon than after.
	morning := q(`SELECT 1.0 * SUM(CAST(strftime('%H', started_at, '+8 hours') AS INTEGER) < 12) / COUNT(*) FROM treatment_session`)
	if morning < 0.5 {
		t.Errorf("morning share %.2f", morning)
	}
	late := q(`SELECT 1.0 * SUM(signed_at > due_at) / COUNT(*) FROM treatment_record WHERE signed_at IS NOT NULL`)
	if late < 0.03 || late > 0.25 {
		t.Errorf("late records %.3f", late)
	}
	// Every slot belongs to a project, and every project has slots: utilisation
	// reads by project.
	if unassigned := q(`SELECT COUNT(*) FROM slot WHERE project_id IS NULL`); unassigned != 0 {
		t.Errorf("%v slots without a project", unassigned)
	}
	if bare := q(`SELECT COUNT(*) FROM project p WHERE NOT EXISTS (SELECT 1 FROM slot s WHERE s.project_id = p.id)`); bare != 0 {
		t.Errorf("%v projects without slots", bare)
	}
	if refunds := q(`SELECT COUNT(*) FROM his_order WHERE status = 'refunded'`); refunds < 1 {
		t.Errorf("no refunds")
	}
	if blank := q(`SELECT COUNT(*) FROM treatment_session WHERE status = 'completed' AND charge_fen <= 0`); blank != 0 {
		t.Errorf("%v completed sessions without charge", blank)
	}
	// The only sessions without an end time are the ones the generator
	// spoiled on purpose (06.01.5 完整性).
	if noEnd := q(`SELECT COUNT(*) FROM treatment_session WHERE status = 'completed' AND ended_at IS NULL`); int(noEnd) != len(st.Spoiled.IDs("06.01.5/完整性")) || noEnd == 0 {
		t.Errorf("%v completed sessions without end, %d spoiled", noEnd, len(st.Spoiled.IDs("06.01.5/完整性")))
	}
	if done := q(`SELECT COUNT(*) FROM followup WHERE status = 'done'`); done < 1 {
		t.Errorf("follow-ups done %v", done)
	}
	if eSurveys := q(`SELECT COUNT(*) FROM survey WHERE channel = 'electronic' AND status = 'answered'`); eSurveys < 1 {
		t.Errorf("electronic surveys %v", eSurveys)
	}
	t.Logf("pilot: %+v", *st)
}
