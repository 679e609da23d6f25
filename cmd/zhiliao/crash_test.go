//go:build !race

// The race detector slows the generating child five-fold and adds nothing to
// a test about SIGKILL; .ci/run runs this file without it.

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/store"
)

// TestHelperProcess is not a test: TestCrashMidGeneration runs it as a child
// process that generates until it is killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("ZHILIAO_HELPER_DATA") == "" {
		t.Skip("helper process for TestCrashMidGeneration")
	}
	os.Exit(Run(context.Background(), []string{"gen", "--preset", "hospital", "--data", os.Getenv("ZHILIAO_HELPER_DATA"), "--log-level", "error"}, io.Discard, os.Stderr))
}

// TestCrashMidGeneration kills a generating process with SIGKILL and checks
// that what committed is whole: every row's version has its outbox event,
// every outbox event's row exists at that version or later, and nothing of
// the interrupted transaction is left.
func TestCrashMidGeneration(t *testing.T) {
	data := t.TempDir()
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "ZHILIAO_HELPER_DATA="+filepath.Join(data, "r"+string(rune('0'+round))))
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at a different depth each round: after the progress line of
		// a later simulated day, i.e. inside some day's batch.
		dbPath := filepath.Join(data, "r"+string(rune('0'+round)), "core.db")
		target := 2 + 2*round
		lines := bufio.NewScanner(stderr)
		reached := false
		for lines.Scan() {
			var day int
			if i := strings.Index(lines.Text(), "day "); i >= 0 {
				fmt.Sscanf(lines.Text()[i:], "day %d/", &day)
			}
			if day >= target {
				reached = true
				break
			}
		}
		if !reached {
			cmd.Wait()
			t.Fatalf("round %d: the generator ended before day %d", round, target)
		}
		time.Sleep(time.Duration(137*round) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		db, err := store.Open(context.Background(), dbPath, store.Options{Logger: discardLogger(), Master: dataMaster(t, filepath.Dir(dbPath))})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		var events int
		db.Reader().QueryRow("SELECT COUNT(*) FROM cdc_outbox").Scan(&events)
		if events == 0 {
			t.Fatalf("round %d: nothing committed before the kill; wait longer", round)
		}
		// Every event's version per entity row, in one pass over the outbox.
		versions := map[string]map[int64]map[int64]bool{}
		rows, err := db.Reader().Query("SELECT entity, entity_id, version FROM cdc_outbox")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var entity string
			var id, v int64
			rows.Scan(&entity, &id, &v)
			if versions[entity] == nil {
				versions[entity] = map[int64]map[int64]bool{}
			}
			if versions[entity][id] == nil {
				versions[entity][id] = map[int64]bool{}
			}
			versions[entity][id][v] = true
		}
		rows.Close()
		for _, e := range store.Entities() {
			name := e.EntityName()
			rows, err := db.Reader().Query("SELECT id, version FROM " + store.TableName(name))
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for rows.Next() {
				var id, v int64
				rows.Scan(&id, &v)
				seen++
				// The row's versions 1..v each have their event, and none beyond.
				for i := int64(1); i <= v; i++ {
					if !versions[name][id][i] {
						t.Errorf("round %d: %s %d version %d has no outbox event", round, name, id, i)
					}
				}
				if versions[name][id][v+1] {
					t.Errorf("round %d: %s %d has an event for version %d beyond its row", round, name, id, v+1)
				}
			}
			rows.Close()
			if seen != len(versions[name]) {
				t.Errorf("round %d: %s has %d rows but events for %d ids", round, name, seen, len(versions[name]))
			}
		}
		t.Logf("round %d: %d events committed before SIGKILL, all whole", round, events)
		db.Close()
	}
}
