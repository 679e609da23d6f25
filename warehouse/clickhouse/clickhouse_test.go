package clickhouse_test

import (
	"testing"

	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

func TestContract(t *testing.T) { warehousetest.Run(t, warehousetest.ClickHouse) }
