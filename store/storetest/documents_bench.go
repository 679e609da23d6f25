package storetest

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/zhiliao/zhiliao/documents"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/vault"
)

// BenchmarkDocuments measures the shared documents' generation and
// registration (facts read, CDA built, SM2-signed by the service key,
// registered) over 600 signed records of a keyed SQLite core, side by side
// with what bounds it: the SM2 signing of the same documents alone, on the
// same cores, in the same run.
//
//	go test ./store -run '^$' -bench Documents -benchtime 5x -count 3
func BenchmarkDocuments(b *testing.B) {
	m, err := vault.NewMaster(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "core.db")
	db, err := store.Open(context.Background(), path, store.Options{FilesDir: dir, Master: m})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e := envOf(b, db)
	for day := 0; day < 100; day++ {
		e.clock.Set(day0.AddDate(0, 0, day))
		e.signedRecords(6)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	var docs [][]byte
	b.Run("generate-and-register", func(b *testing.B) {
		var made int
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if _, err := raw.Exec("DELETE FROM document"); err != nil {
				b.Fatal(err)
			}
			g := &documents.Generator{Core: db, Now: func() time.Time { return day0 }}
			b.StartTimer()
			res, err := g.RunOnce(e.ctx)
			if err != nil || res.Registered != 600 {
				b.Fatal(res, err)
			}
			made += res.Registered
		}
		b.ReportMetric(float64(made)/b.Elapsed().Seconds(), "documents/s")
		rows, err := raw.Query("SELECT id FROM document")
		if err != nil {
			b.Fatal(err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		docs = docs[:0]
		for _, id := range ids { // the clear bytes (the registry keeps them sealed)
			_, c, err := db.Document(e.ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			docs = append(docs, c)
		}
	})
	s, _, err := vault.GenerateSM2()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sm2-sign-alone", func(b *testing.B) {
		signed := 0
		for i := 0; i < b.N; i++ {
			for _, d := range docs {
				if _, err := s.Sign(d); err != nil {
					b.Fatal(err)
				}
				signed++
			}
		}
		b.ReportMetric(float64(signed)/b.Elapsed().Seconds(), "documents/s")
	})
	b.Run("sm2-sign-alone-both-cores", func(b *testing.B) {
		signed := make(chan int, 2)
		start := time.Now()
		for i := 0; i < b.N; i++ {
			for w := 0; w < 2; w++ {
				go func(part [][]byte) {
					for _, d := range part {
						s.Sign(d)
					}
					signed <- len(part)
				}(docs[w*len(docs)/2 : (w+1)*len(docs)/2])
			}
		}
		n := 0
		for i := 0; i < 2*b.N; i++ {
			n += <-signed
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "documents/s")
	})
	_ = model.DocConsent
}
