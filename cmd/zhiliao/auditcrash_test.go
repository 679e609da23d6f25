//go:build !race

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// TestHelperServe is not a test: TestAuditSurvivesKill runs it as a child
// `serve` process that it kills.
func TestHelperServe(t *testing.T) {
	data := os.Getenv("ZHILIAO_HELPER_SERVE")
	if data == "" {
		t.Skip("helper process for TestAuditSurvivesKill")
	}
	os.Exit(Run(context.Background(), []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--metrics-addr", "",
		"--report-schedule", "", "--log-level", "error"}, os.Stdout, os.Stderr))
}

// TestAuditSurvivesKill sends HIS orders from 8 clients to a serve process
// and kills it with SIGKILL mid-stream, three times: every write the
// service acknowledged has its order and its audit line naming that order,
// and no audit line of a write names an order that is not there.
func TestAuditSurvivesKill(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(data, "core.db"), store.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	inst := &model.Institution{Code: "H001", Name: "示例医院"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateInstitution(ctx, inst))
	dept := &model.Department{Code: "KF", Name: "康复医学科"}
	dept.InstitutionID = inst.ID
	must(db.CreateDepartment(ctx, dept))
	p := &model.Project{DeptID: dept.ID, Code: "KF001", Name: "运动疗法", Category: "rehab", UnitPriceFen: 4500, Minutes: 30, CourseSessions: 10, Active: true}
	p.InstitutionID = inst.ID
	must(db.CreateProject(ctx, p))
	must(db.CreateUser(ctx, &model.User{InstitutionID: inst.ID, Username: "his", Role: model.RoleHIS}, "Interface-2026"))
	db.Close()

	var acked sync.Map // message id → true, for every 200 received
	var sent atomic.Int64
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$")
		cmd.Env = append(os.Environ(), "ZHILIAO_HELPER_SERVE="+data)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		url := ""
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if i := strings.Index(lines.Text(), "http://"); i >= 0 {
				url = strings.TrimSpace(lines.Text()[i:])
				break
			}
		}
		go io.Copy(io.Discard, stdout)
		if url == "" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: serve printed no address", round)
		}
		resp, err := http.Post(url+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"his","password":"Interface-2026"}`))
		if err != nil {
			t.Fatal(err)
		}
		var login struct{ Token string }
		json.NewDecoder(resp.Body).Decode(&login)
		resp.Body.Close()
		var wg sync.WaitGroup
		var ok atomic.Int64
		stop := make(chan struct{})
		for c := 0; c < 8; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					n := sent.Add(1)
					id := fmt.Sprintf("K%06d", n)
					body, _ := json.Marshal(map[string]any{"message_id": id, "action": "new", "order_no": "RX" + id, "patient_mrn": "MRN" + id,
						"patient_name": "测试患者", "project_code": "KF001", "quantity": 1, "visit_type": "outpatient", "diagnosis_code": "M54.5",
						"ordered_at": time.Now(), "paid": true})
					req, _ := http.NewRequest("POST", url+"/api/v1/his/orders", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+login.Token)
					req.Header.Set("Content-Type", "application/json")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						return // the server is gone
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						acked.Store(id, true)
						ok.Add(1)
					}
				}
			}()
		}
		for deadline := time.Now().Add(30 * time.Second); ok.Load() < int64(50+40*round) && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		cmd.Wait()
		wg.Wait()
		t.Logf("round %d: %d writes acknowledged before SIGKILL", round, ok.Load())
	}
	db, err = store.Open(ctx, filepath.Join(data, "core.db"), store.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	orders := map[string]int64{}
	rows, err := db.Reader().Query("SELECT his_message_id, id FROM his_order")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m string
		var id int64
		rows.Scan(&m, &id)
		orders[m] = id
	}
	rows.Close()
	audited := map[string]bool{}
	rows, err = db.Reader().Query("SELECT entity_id FROM audit_log WHERE action = 'write' AND entity = 'order' AND status = 200")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		audited[id] = true
	}
	rows.Close()
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		id, ok := orders[k.(string)]
		if !ok {
			t.Errorf("acknowledged order %s is not in the core", k)
		} else if !audited[fmt.Sprint(id)] {
			t.Errorf("acknowledged order %s (id %d) has no audit line", k, id)
		}
		return true
	})
	byID := map[string]bool{}
	for _, id := range orders {
		byID[fmt.Sprint(id)] = true
	}
	for id := range audited {
		if !byID[id] {
			t.Errorf("audit line for order %s, which is not in the core", id)
		}
	}
	if n < 150 {
		t.Fatalf("only %d writes acknowledged over three rounds", n)
	}
}
