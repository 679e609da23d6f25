package storetest

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

const (
	leaderChildEnv = "ZHILIAO_TEST_LEADER_DSN"
	leaderFilesEnv = "ZHILIAO_TEST_LEADER_FILES"
)

// testLeaderTakesOverAfterKill: two service instances on one core; only one
// runs the duties. Killing the leader with SIGKILL hands them to the other
// within seconds. On SQLite the only process leads at once.
func testLeaderTakesOverAfterKill(t *testing.T) {
	e := newEnv(t)
	if !onPostgres {
		var ran atomic.Bool
		e.db.Lead(e.ctx, "duties", func(context.Context) { ran.Store(true) }, nil)
		if !ran.Load() {
			t.Fatal("SQLite: the one process did not lead")
		}
		return
	}
	child := exec.Command(os.Args[0], childRun("LeaderChild"))
	// The child is killed: it cannot remove a temp dir of its own.
	child.Env = append(os.Environ(), leaderChildEnv+"="+e.db.Path, leaderFilesEnv+"="+t.TempDir())
	out, err := child.StdoutPipe()
	e.must(err)
	e.must(child.Start())
	defer child.Process.Kill()
	lines := bufio.NewScanner(out)
	for lines.Scan() && !strings.Contains(lines.Text(), "child leads") {
	}

	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	led := make(chan time.Time, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.db.Lead(ctx, "duties", func(dctx context.Context) {
			led <- time.Now()
			<-dctx.Done()
		}, nil)
	}()
	select {
	case <-led:
		t.Fatal("a second instance leads while the first holds the duties")
	case <-time.After(3 * time.Second):
	}
	killed := time.Now()
	e.must(child.Process.Signal(os.Kill))
	child.Wait()
	select {
	case at := <-led:
		t.Logf("took over %.2f s after SIGKILL of the leader", at.Sub(killed).Seconds())
	case <-time.After(30 * time.Second):
		t.Fatal("no instance took the duties over 30 s after the leader was killed")
	}
	cancel()
	<-done
}

// testLeaderChild is the first instance of LeaderTakesOverAfterKill: it
// leads until killed.
func testLeaderChild(t *testing.T) {
	dsn := os.Getenv(leaderChildEnv)
	if dsn == "" {
		t.Skip("the leader child of LeaderTakesOverAfterKill")
	}
	db, err := store.Open(context.Background(), dsn, store.Options{FilesDir: os.Getenv(leaderFilesEnv)})
	if err != nil {
		t.Fatal(err)
	}
	db.Lead(context.Background(), "duties", func(ctx context.Context) {
		os.Stdout.WriteString("child leads\n")
		<-ctx.Done()
	}, nil)
}

// testConnectionLostMidTransaction: the server ends a transaction's
// session between its writes and COMMIT. The call fails with an error,
// nothing of it is in the core (row, history or outbox), and the next call
// succeeds on a new connection.
func testConnectionLostMidTransaction(t *testing.T) {
	if !onPostgres {
		t.Skip("SQLite has no connection to lose: store/postgres runs this")
	}
	e := newEnv(t)
	admin, err := sql.Open("pgx", e.db.Path)
	e.must(err)
	defer admin.Close()
	before := e.snapshot()
	var once sync.Once
	e.db.BeforeCommit = func(context.Context) error {
		once.Do(func() {
			// The one session inside a transaction is the call's own.
			_, err = admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()`)
		})
		return nil
	}
	p := &model.Patient{MRN: "LOST-1", Name: "断线患者", Gender: "U"}
	p.InstitutionID = e.inst.ID
	if err := e.db.CreatePatient(e.ctx, p); err == nil {
		t.Fatal("a write whose session was ended before COMMIT succeeded")
	}
	e.must(err)
	if _, err := e.db.PatientByMRN(e.ctx, e.inst.ID, "LOST-1"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("the lost write left its patient: %v", err)
	}
	if after := e.snapshot(); after != before {
		t.Errorf("the lost write left rows behind: %+v, before %+v", after, before)
	}
	p = &model.Patient{MRN: "LOST-2", Name: "断线后患者", Gender: "U"}
	p.InstitutionID = e.inst.ID
	e.must(e.db.CreatePatient(e.ctx, p))
}
