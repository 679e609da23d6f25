package store_test

import (
	"testing"

	"github.com/zhiliao/zhiliao/store/storetest"
)

// The store's benchmarks live with its contract suite (store/storetest),
// which holds the fixtures; they run from here, so that their commands in
// docs/BENCHMARKS.md stay `go test ./store -bench …`.

func BenchmarkTransitions(b *testing.B)        { storetest.BenchmarkTransitions(b) }
func BenchmarkTransitionsEngines(b *testing.B) { storetest.BenchmarkTransitionsEngines(b) }
func BenchmarkSealed(b *testing.B)             { storetest.BenchmarkSealed(b) }
func BenchmarkVerifyRecords(b *testing.B)      { storetest.BenchmarkVerifyRecords(b) }
func BenchmarkDocuments(b *testing.B)          { storetest.BenchmarkDocuments(b) }
