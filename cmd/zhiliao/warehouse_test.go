package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/zhiliao/zhiliao/etl"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestHoldWarehouse is not a test: TestWarehouseCommands runs it as a
// second process that holds the warehouse file, as a running server would.
func TestHoldWarehouse(t *testing.T) {
	data := os.Getenv("ZHILIAO_HOLD_DATA")
	if data == "" {
		t.Skip("helper process only")
	}
	// Hold the warehouse the way a server does: open it (waiting while the
	// test's own commands have it), say so, and keep it until killed.
	ctx := context.Background()
	c := common{data: data, logLevel: "error"}
	var w whFlags
	for {
		wh, err := w.open(ctx, &c)
		if err == nil {
			defer wh.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("holding")
	time.Sleep(time.Hour)
}

func TestWarehouseCommands(t *testing.T) {
	data := pilotData(t)
	code, out, stderr := run(t, "relay", "--once", "--data", data, "--log-level", "error")
	if code != 0 || !strings.Contains(out, "已同步 shipped seq 0 → ") {
		t.Fatalf("relay --once: %d %s %s", code, out, stderr)
	}
	if code, out, _ := run(t, "relay", "--once", "--data", data, "--log-level", "error"); code != 0 || !strings.Contains(out, "(0 events)") {
		t.Errorf("second relay --once: %d %s", code, out)
	}
	if code, out, _ := run(t, "warehouse", "dead-letters", "--data", data); code != 0 || !strings.Contains(out, "0 pending") {
		t.Errorf("dead-letters: %d %s", code, out)
	}
	if code, out, stderr := run(t, "warehouse", "rebuild", "--data", data, "--log-level", "error"); code != 0 || !strings.Contains(out, "重建 rebuild: done") {
		t.Errorf("rebuild: %d %s %s", code, out, stderr)
	}
	if code, out, stderr := run(t, "etl", "run", "--data", data, "--log-level", "error"); code != 0 || strings.Count(out, " ok ") != len(etl.Marts) {
		t.Errorf("etl run: %d\n%s%s", code, out, stderr)
	}
	xlsx := filepath.Join(t.TempDir(), "月报.xlsx")
	if code, out, stderr := run(t, "export", "dept-monthly", "--from", "2026-09-01", "--to", "2026-09-30", "--dept", "JG",
		"--out", xlsx, "--data", data, "--log-level", "error"); code != 0 || !strings.Contains(out, "已导出 wrote") {
		t.Errorf("export: %d %s %s", code, out, stderr)
	}
	if f, err := excelize.OpenFile(xlsx); err != nil {
		t.Errorf("exported workbook: %v", err)
	} else {
		if v, _ := f.GetCellValue("汇总", "A5"); v != "激光治疗中心" { // below the title block and the header
			t.Errorf("summary A5 %q", v)
		}
		f.Close()
	}
	if code, _, stderr := run(t, "export", "workload", "--from", "2020-01-01", "--to", "2020-01-31", "--out", filepath.Join(t.TempDir(), "e.xlsx"),
		"--data", data, "--log-level", "error"); code != 1 || !strings.Contains(stderr, "没有数据") {
		t.Errorf("empty export: %d %s", code, stderr)
	}
	for _, bad := range [][]string{
		{"export", "nope", "--from", "2026-09-01", "--to", "2026-09-30", "--out", xlsx, "--data", data},
		{"export", "workload", "--from", "2026-09-30", "--to", "2026-09-01", "--out", xlsx, "--data", data},
		{"export", "workload", "--from", "2026-09-01", "--to", "2026-09-30", "--out", "x.csv", "--data", data},
		{"export", "workload", "--from", "2026-09-01", "--to", "2026-09-30", "--dept", "NOPE", "--out", xlsx, "--data", data},
		{"export", "--from", "2026-09-01", "--data", data},
		{"etl", "run", "--mart", "nope", "--data", data},
		{"etl", "compute", "--data", data},
		{"relay", "--warehouse", "postgres://x", "--data", data},
		{"relay", "--relay-batch", "0", "--data", data},
		{"warehouse", "drop", "--data", data},
	} {
		if code, _, stderr := run(t, bad...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, code, stderr)
		}
	}

	// While another process holds the embedded warehouse, a command says so
	// plainly instead of surfacing DuckDB's lock error.
	holder := exec.Command(os.Args[0], "-test.run=^TestHoldWarehouse$")
	holder.Env = append(os.Environ(), "ZHILIAO_HOLD_DATA="+data)
	holding, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	line, err := bufio.NewReader(holding).ReadString('\n')
	if err != nil || !strings.Contains(line, "holding") {
		t.Fatalf("holder: %q %v", line, err)
	}
	code, _, stderr = run(t, "warehouse", "dead-letters", "--data", data)
	if code != 1 || !strings.Contains(stderr, "held by another zhiliao process") {
		t.Errorf("with the warehouse held: exit %d, %q", code, stderr)
	}
}

// TestRebuildOneHospitalOfARegion: in a warehouse two hospitals relay
// into, `warehouse rebuild` from one hospital's core empties and ships again
// only that hospital's namespace (the other's rows and the warehouse id
// stay), and builds the marts again, which still held its old rows.
func TestRebuildOneHospitalOfARegion(t *testing.T) {
	dsn := warehousetest.ClickHouseDSN(t)
	a := pilotData(t)
	b := t.TempDir()
	if code, _, stderr := run(t, "gen", "--preset", "pilot", "--institution", "H005", "--data", b, "--log-level", "error"); code != 0 {
		t.Fatalf("gen: %d %s", code, stderr)
	}
	for _, d := range []string{a, b} {
		if code, _, stderr := run(t, "relay", "--once", "--data", d, "--warehouse", dsn, "--log-level", "error"); code != 0 {
			t.Fatalf("relay %s: %d %s", d, code, stderr)
		}
	}
	if code, _, stderr := run(t, "etl", "run", "--full", "--data", a, "--warehouse", dsn, "--log-level", "error"); code != 0 {
		t.Fatalf("etl run: %d %s", code, stderr)
	}
	ctx := context.Background()
	wh, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	// The relays pruned the generated outboxes (a year older than the
	// retention): the rebuild ships hospital 5 as a snapshot of its rows, so
	// what must stay equal is each namespace's high water and marts.
	perNamespace := func() string {
		hws, err := wh.HighWaters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(hws, warehousetest.Rows(t, wh, fmt.Sprintf(
			"SELECT intDiv(dept_id, %d) AS ns, sum(sessions), sum(treatment_minutes), count() FROM mart_workload GROUP BY ns ORDER BY ns", model.NamespaceBase(1))))
	}
	before, id := perNamespace(), wh.ID()
	restores := func() int64 { return warehousetest.Count(t, wh, "SELECT count() FROM etl_runs WHERE job = 'restore'") }
	if restores() != 0 {
		t.Fatal("restore runs before the rebuild")
	}

	code, out, stderr := run(t, "warehouse", "rebuild", "--data", b, "--warehouse", dsn, "--log-level", "error")
	if code != 0 || !strings.Contains(out, "namespace 5") || !strings.Contains(out, "重建 rebuild: done") {
		t.Fatalf("rebuild of hospital 5: %d\n%s%s", code, out, stderr)
	}
	if after := perNamespace(); after != before {
		t.Errorf("high waters and 工作量 per namespace (ns, sessions, minutes, rows): %s before the rebuild, %s after", before, after)
	}
	if again, err := clickhouse.Open(ctx, dsn); err != nil || again.ID() != id {
		t.Errorf("warehouse id %s → %v %v: the other hospital's relay checkpoint would no longer apply", id, again, err)
	} else {
		again.Close()
	}
	if n := restores(); n != int64(len(etl.Marts)) {
		t.Errorf("%d mart runs after rebuilding one hospital of the region, want %d", n, len(etl.Marts))
	}
}
