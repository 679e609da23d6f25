//go:build !race

package etl_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/zhiliao/zhiliao/gen"
	"github.com/zhiliao/zhiliao/internal/testcore"
)

// TestOracleClinic checks the marts against the oracle on the mid-size
// preset (four departments, half a year, ~9k sessions, ~1.2k follow-ups).
// Generating it takes ~15 s, ten times that under the race detector, so it
// runs without it (.ci/run runs it in its own step).
func TestOracleClinic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "core.db")
	core := testcore.Open(t, path)
	if _, err := gen.Run(context.Background(), core, gen.Config{Preset: gen.Presets["clinic"], Seed: 3}); err != nil {
		t.Fatal(err)
	}
	checkOracle(t, core)
}
