package gen_test

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/zhiliao/zhiliao/gen"
	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/store"
)

// BenchmarkGenerateEngines generates the same preset side by side in one
// run: serially on SQLite (the embedded default), serially on PostgreSQL,
// and one worker per department on PostgreSQL (--parallel). The preset is
// ZHILIAO_BENCH_GEN_PRESET (default hospital), cut to ZHILIAO_BENCH_GEN_DAYS
// days (default 14; 0: the whole preset).
//
//	ZHILIAO_TEST_POSTGRES=… go test ./gen -run '^$' -bench GenerateEngines -benchtime 1x -timeout 3h
func BenchmarkGenerateEngines(b *testing.B) {
	preset := gen.Presets[cmp.Or(os.Getenv("ZHILIAO_BENCH_GEN_PRESET"), "hospital")]
	if days, err := strconv.Atoi(cmp.Or(os.Getenv("ZHILIAO_BENCH_GEN_DAYS"), "14")); err == nil && days > 0 {
		preset.Days = days
	}
	for _, run := range []struct {
		name     string
		postgres bool
		parallel bool
	}{{"sqlite/serial", false, false}, {"postgres/serial", true, false}, {"postgres/parallel", true, true}} {
		b.Run(run.name, func(b *testing.B) {
			for range b.N {
				where := filepath.Join(b.TempDir(), "core.db")
				if run.postgres {
					testpg.ServerDSN(b)
					where = testpg.Core(b)
				}
				db, err := store.Open(context.Background(), where, store.Options{FilesDir: filepath.Join(b.TempDir(), "files")})
				if err != nil {
					b.Fatal(err)
				}
				st, err := gen.Run(context.Background(), db, gen.Config{Preset: preset, Seed: 1, Parallel: run.parallel})
				db.Close()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(st.Elapsed.Seconds(), "s")
				b.ReportMetric(float64(st.Events)/st.Elapsed.Seconds(), "events/s")
				b.ReportMetric(float64(st.Sessions), "sessions")
			}
		})
	}
}
