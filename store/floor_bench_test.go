package store

import (
	"context"
	"path/filepath"
	"testing"
)

// BenchmarkStatementFloor measures the cheapest statements the lifecycle
// services issue, on the core's own connections and pragmas: a prepared
// point read by primary key (a guard) and a prepared insert of one outbox
// row inside an open transaction (with its indexes). Their sum over the
// ~120 statements of one generated session is the floor under `zhiliao gen`
// however the services are arranged (docs/BENCHMARKS.md, issue 2).
//
//	go test ./store -run '^$' -bench StatementFloor -benchtime 200000x
func BenchmarkStatementFloor(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "core.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	payload := `{"id":1,"institution_id":1,"version":3,"status":"booked","patient_id":77,"dept_id":3,"project_id":12,"slot_id":5,"channel":"wechat","receipt_no":"R1"}`
	b.Run("insert-outbox-row", func(b *testing.B) {
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		ins, err := tx.PrepareContext(ctx, "INSERT INTO cdc_outbox (entity, entity_id, op, version, occurred_at, tx_id, institution_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := ins.ExecContext(ctx, "appointment", i, "u", 3, "2026-03-01T08:00:00.000Z", i/10, 1, payload); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("select-by-key", func(b *testing.B) {
		var head int64
		if err := db.r.QueryRowContext(ctx, "SELECT COALESCE(max(seq), 0) FROM cdc_outbox").Scan(&head); err != nil || head == 0 {
			b.Fatalf("no rows to read (%d): %v", head, err)
		}
		sel, err := db.r.PrepareContext(ctx, "SELECT version FROM cdc_outbox WHERE seq = ?")
		if err != nil {
			b.Fatal(err)
		}
		var v int64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := sel.QueryRowContext(ctx, int64(i)%head+1).Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
