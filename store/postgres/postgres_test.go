package postgres_test

import (
	"testing"

	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/store/storetest"
)

// TestContract runs the store's whole service suite on PostgreSQL: every
// subtest on a fresh database of the server ZHILIAO_TEST_POSTGRES names
// (.ci/run starts one; locally the test skips without it, saying how).
func TestContract(t *testing.T) {
	testpg.ServerDSN(t)
	storetest.Run(t, storetest.Postgres())
}
