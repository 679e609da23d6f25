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
