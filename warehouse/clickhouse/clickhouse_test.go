package clickhouse_test

import (
	"testing"

	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

func TestContract(t *testing.T) { warehousetest.Run(t, warehousetest.ClickHouse) }

// TestContractOnCluster: the same contract on the 2 × 2 cluster of
// scripts/clickhouse-test-cluster, through its Distributed tables.
func TestContractOnCluster(t *testing.T) { warehousetest.Run(t, warehousetest.Cluster) }
