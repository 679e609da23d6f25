package sqlite_test

import (
	"testing"

	"github.com/zhiliao/zhiliao/store/storetest"
)

// TestContract runs the store's whole service suite on SQLite.
func TestContract(t *testing.T) { storetest.Run(t, storetest.SQLite()) }
