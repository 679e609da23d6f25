package cdc_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/internal/testpg"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// pgWriterEnv makes the test binary one writer process of
// TestRelayExactWithConcurrentWritersOnPostgres.
const pgWriterEnv = "ZHILIAO_TEST_PG_WRITER"

// TestRelayExactWithConcurrentWritersOnPostgres: three processes of eight
// writers each commit to one PostgreSQL core, every transaction holding its
// outbox sequence numbers for a random while before COMMIT (so commits land
// out of seq order) and one in eight rolled back after writing, while the
// relay ships. Every committed event reaches the warehouse exactly once, in
// an order that keeps each row's versions ascending, and no rolled-back one
// does.
func TestRelayExactWithConcurrentWritersOnPostgres(t *testing.T) {
	dsn := testpg.Core(t)
	ctx := context.Background()
	core, err := store.Open(ctx, dsn, store.Options{FilesDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer core.Close()
	inst := &model.Institution{Code: "H1", Name: "并发测试医院", Level: "三级甲等"}
	if err := core.CreateInstitution(ctx, inst); err != nil {
		t.Fatal(err)
	}
	dept := &model.Department{Code: "KF", Name: "康复医学科"}
	dept.InstitutionID = inst.ID
	if err := core.CreateDepartment(ctx, dept); err != nil {
		t.Fatal(err)
	}
	var projects []string
	for i := range 3 {
		pr := &model.Project{DeptID: dept.ID, Code: fmt.Sprintf("KF%03d", i), Name: "运动疗法", Category: "rehab",
			UnitPriceFen: 4500, Minutes: 30, CourseSessions: 10, Active: true}
		pr.InstitutionID = inst.ID
		if err := core.CreateProject(ctx, pr); err != nil {
			t.Fatal(err)
		}
		projects = append(projects, strconv.FormatInt(pr.ID, 10))
	}
	wh := warehousetest.DuckDB(t).Open(t)
	defer wh.Close()
	relay := quietRelay(core, wh)
	relay.BatchSize = 50
	relay.FlushInterval = 5 * time.Millisecond
	rctx, stop := context.WithCancel(ctx)
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(rctx) }()

	const procs = 3
	var wg sync.WaitGroup
	outs := make([][]byte, procs)
	errs := make([]error, procs)
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), pgWriterEnv+"="+dsn, "ZHILIAO_TEST_PG_PROC="+strconv.Itoa(p),
				"ZHILIAO_TEST_PG_INST="+strconv.FormatInt(inst.ID, 10), "ZHILIAO_TEST_PG_PROJECTS="+strings.Join(projects, ","))
			outs[p], errs[p] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for p := range procs {
		if errs[p] != nil {
			t.Fatalf("writer process %d: %v\n%s", p, errs[p], outs[p])
		}
	}
	stop()
	if err := <-relayDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if err := relay.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var committed, rolledBack int
	for p := range procs {
		var c, r int
		fmt.Sscanf(string(outs[p]), "committed %d rolled-back %d", &c, &r)
		committed, rolledBack = committed+c, rolledBack+r
	}
	if committed < 200 || rolledBack == 0 {
		t.Fatalf("writers committed %d and rolled back %d transactions: %s", committed, rolledBack, outs[0])
	}

	// What the core committed (its outbox) against what was shipped.
	type ev struct {
		entity      string
		id, version int64
	}
	want := map[ev]bool{}
	rows, err := core.QueryContext(ctx, "SELECT entity, entity_id, version FROM cdc_outbox")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e ev
		if err := rows.Scan(&e.entity, &e.id, &e.version); err != nil {
			t.Fatal(err)
		}
		want[e] = true
	}
	rows.Close()
	shipped := warehousetest.Rows(t, wh, "SELECT seq, entity, entity_id, version FROM cdc_events ORDER BY seq")
	seen := map[ev]bool{}
	last := map[[2]any]int64{}
	for i, r := range shipped {
		e := ev{r[1].(string), r[2].(int64), r[3].(int64)}
		if r[0].(int64) != int64(i+1) {
			t.Fatalf("position %d at index %d: positions are 1…n without gaps", r[0], i)
		}
		if seen[e] {
			t.Errorf("%v shipped twice", e)
		}
		if !want[e] {
			t.Errorf("%v shipped but never committed", e)
		}
		// Each row's versions arrive in order: 1, 2, 3, …
		key := [2]any{e.entity, e.id}
		if e.version != last[key]+1 {
			t.Errorf("%s %d: version %d shipped after %d", e.entity, e.id, e.version, last[key])
		}
		last[key] = e.version
		seen[e] = true
	}
	if len(seen) != len(want) {
		t.Errorf("shipped %d of %d committed events", len(seen), len(want))
	}
	if head := outboxHead(t, core); int64(len(shipped)) != head {
		t.Errorf("shipped %d events, outbox head %d", len(shipped), head)
	}
}

// pgWriter is one writer process: 8 goroutines, each 25 times creating a
// patient and switching the rating scope of one of three shared projects
// (so the processes change the same rows and the server must serialise
// them), every transaction waiting a random 0–20 ms between taking its
// outbox seqs and COMMIT; one in eight is rolled back at that point.
func pgWriter() int {
	ctx := context.Background()
	core, err := store.Open(ctx, os.Getenv(pgWriterEnv), store.Options{FilesDir: os.TempDir()})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer core.Close()
	inst, _ := strconv.ParseInt(os.Getenv("ZHILIAO_TEST_PG_INST"), 10, 64)
	var projects []int64
	for _, s := range strings.Split(os.Getenv("ZHILIAO_TEST_PG_PROJECTS"), ",") {
		id, _ := strconv.ParseInt(s, 10, 64)
		projects = append(projects, id)
	}
	proc := os.Getenv("ZHILIAO_TEST_PG_PROC")
	errRolledBack := errors.New("rolled back on purpose")
	core.BeforeCommit = func(context.Context) error {
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		if rand.IntN(8) == 0 {
			return errRolledBack
		}
		return nil
	}
	var mu sync.Mutex
	var committed, rolledBack int
	count := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			committed++
		case errors.Is(err, errRolledBack):
			rolledBack++
		default:
			fmt.Println(err)
			os.Exit(1)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				p := &model.Patient{MRN: fmt.Sprintf("P%s-%d-%d", proc, g, i), Name: "并发患者", Gender: "U"}
				p.InstitutionID = inst
				count(core.CreatePatient(ctx, p))
				_, err := core.SetProjectScope(ctx, projects[rand.IntN(len(projects))], rand.IntN(2) == 0, rand.IntN(2) == 0)
				count(err)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("committed %d rolled-back %d\n", committed, rolledBack)
	return 0
}
