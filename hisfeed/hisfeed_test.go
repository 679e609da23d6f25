package hisfeed_test

import (
	"context"
	"database/sql"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/zhiliao/zhiliao/hisfeed"
	"github.com/zhiliao/zhiliao/internal/testclock"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/interop/hl7v2"
	"github.com/zhiliao/zhiliao/interop/mllp"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testcore.Cleanup()
	os.Exit(code)
}

// peer is a test HIS: an MLLP listener that answers each message as answer
// says (AA by default) and keeps what it received, in order.
type peer struct {
	mu       sync.Mutex
	got      []*hl7v2.Message
	answer   func(m *hl7v2.Message) string // "AA", "AE", "AR"
	addr     string
	stop     context.CancelFunc
	finished chan struct{}
}

func startPeer(t *testing.T, addr string) *peer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{addr: ln.Addr().String(), finished: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = func() { cancel(); <-p.finished }
	srv := &mllp.Server{Handle: func(_ context.Context, raw []byte) []byte {
		m, err := hl7v2.Parse(raw)
		if err != nil {
			return hl7v2.Nak(nil, "AR", "", err.Error(), "20260901080000")
		}
		p.mu.Lock()
		p.got = append(p.got, m)
		answer := p.answer
		p.mu.Unlock()
		code := "AA"
		if answer != nil {
			code = answer(m)
		}
		if code == "AA" {
			return hl7v2.Ack(m, code, "", "20260901080000")
		}
		return hl7v2.Nak(m, code, "PID-3", "患者不存在", "20260901080000")
	}}
	go func() { defer close(p.finished); srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel() })
	return p
}

func (p *peer) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.got {
		out = append(out, m.ControlID())
	}
	return out
}

// pilotFeed is the pilot's core with peer his reading its last events.
func pilotFeed(t *testing.T, events int64, addr string) (*store.DB, *hisfeed.Feed, *testclock.Clock) {
	t.Helper()
	path := testcore.Copy(t, testcore.PilotFile(t))
	db := testcore.Open(t, path)
	ctx := t.Context()
	head, err := db.OutboxHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.FeedCheckpoint(ctx, "his"); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec("UPDATE feed_checkpoint SET seq = ? WHERE peer = 'his'", head-events); err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	db.Now = clock.Now // the queue's times and the sender's are one clock
	f := &hisfeed.Feed{Core: db, Peer: hisfeed.Peer{Name: "his", Addr: addr, App: "HIS", Facility: "H001"},
		Client: &mllp.Client{Addr: addr, Attempts: 1, Timeout: 2 * time.Second}, Now: clock.Now}
	return db, f, clock
}

// drain sends until the queue is empty or a message waits, advancing the
// clock over every wait (at most limit calls).
func drain(t *testing.T, f *hisfeed.Feed, clock *testclock.Clock, limit int) {
	t.Helper()
	for i := 0; i < limit; i++ {
		wait, idle, err := f.SendNext(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if idle {
			return
		}
		clock.Add(wait)
	}
	t.Fatalf("queue not drained in %d calls", limit)
}

// TestFeedInOrder: the pilot's last 3,000 changes become SIU and ORM
// messages, queued once (a second reading, or a second instance, queues
// nothing), each well-formed with the patient's MRN, and delivered to the
// HIS exactly in queue order, so each patient's messages arrive in the
// order their changes happened.
func TestFeedInOrder(t *testing.T) {
	his := startPeer(t, "")
	db, f, clock := pilotFeed(t, 20000, his.addr)
	ctx := t.Context()
	n, err := f.Enqueue(ctx)
	if err != nil || n == 0 {
		t.Fatalf("queued %d: %v", n, err)
	}
	again, err := f.Enqueue(ctx)
	other := &hisfeed.Feed{Core: db, Peer: f.Peer, Client: f.Client, Now: clock.Now}
	third, err2 := other.Enqueue(ctx)
	if err != nil || err2 != nil || again != 0 || third != 0 {
		t.Fatalf("read again: %d, %d (%v %v)", again, third, err, err2)
	}
	queued, err := db.FeedMessages(model.WithActor(ctx, model.Actor{Role: model.RoleSystem, InstitutionID: 1}), model.FeedQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, m := range queued {
		types[m.Type]++
	}
	t.Logf("queued %d: %v", n, types)
	if types["SIU^S12"] == 0 || types["ORM^O01"] == 0 {
		t.Fatalf("message types %v", types)
	}
	drain(t, f, clock, n+10)
	got := his.received()
	if len(got) != n {
		t.Fatalf("the HIS received %d of %d", len(got), n)
	}
	rows, err := db.QueryContext(ctx, "SELECT control_id, status, patient_id, seq FROM feed_message WHERE peer = 'his' ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	lastSeq := map[int64]int64{}
	for rows.Next() {
		var id, status string
		var patient, seq int64
		rows.Scan(&id, &status, &patient, &seq)
		if got[i] != id || status != model.FeedAcked {
			t.Fatalf("message %d: sent %s, queued %s (%s)", i, got[i], id, status)
		}
		if seq < lastSeq[patient] {
			t.Fatalf("patient %d's messages out of order at %s", patient, id)
		}
		lastSeq[patient] = seq
		i++
	}
	for _, m := range his.got {
		if m.Comp("PID", 3, 1) == "" || m.Comp("PID", 3, 5) != "MR" || m.Field("MSH", 12) != "2.5" {
			t.Fatalf("%s: PID-3 %q", m.ControlID(), m.Field("PID", 3))
		}
		switch m.Comp("MSH", 9, 1) {
		case "SIU":
			if m.Comp("SCH", 1, 1) == "" || m.Comp("SCH", 11, 4) == "" || m.Comp("AIS", 3, 1) == "" || m.Field("SCH", 25) == "" {
				t.Fatalf("%s: SCH %q AIS %q", m.ControlID(), m.Field("SCH", 1), m.Field("AIS", 3))
			}
		case "ORM":
			if m.Field("ORC", 1) != "SC" || m.Field("ORC", 5) != "CM" || m.Comp("ORC", 2, 1) == "" || m.Field("OBR", 25) != "F" {
				t.Fatalf("%s: ORC %q %q %q", m.ControlID(), m.Field("ORC", 1), m.Field("ORC", 2), m.Field("ORC", 5))
			}
		}
	}
}

// TestFeedPeerDownAndRefusals: the HIS gone for over a minute delays the
// queue and loses nothing; back, it gets every message once, in order. A
// message the HIS keeps answering AE is given up after five answers with
// the reason, one answered AR at once, and the messages behind go out;
// a message given up and replayed goes out again.
func TestFeedPeerDownAndRefusals(t *testing.T) {
	his := startPeer(t, "")
	addr := his.addr
	db, f, clock := pilotFeed(t, 3000, addr)
	ctx := t.Context()
	n, err := f.Enqueue(ctx)
	if err != nil || n < 5 {
		t.Fatalf("queued %d: %v", n, err)
	}
	his.stop() // the HIS goes away
	start := clock.Now()
	for clock.Now().Sub(start) < 90*time.Second {
		wait, idle, err := f.SendNext(ctx)
		if err != nil || idle || wait == 0 {
			t.Fatalf("with the HIS down: wait %v idle %v err %v", wait, idle, err)
		}
		clock.Add(wait)
	}
	first, err := db.NextFeedMessage(ctx, "his")
	if err != nil || first == nil || first.Attempts < 5 || !strings.Contains(first.LastError, "未送达") || first.Status != model.FeedQueued {
		t.Fatalf("head of the queue after the outage: %+v %v", first, err)
	}
	// Back on the same port: everything goes, in order, once each.
	his = startPeer(t, addr)
	var refuseAE, refuseAR string
	his.answer = func(m *hl7v2.Message) string {
		switch m.ControlID() {
		case refuseAE:
			return "AE"
		case refuseAR:
			return "AR"
		}
		return "AA"
	}
	queued, _ := db.FeedMessages(model.WithActor(ctx, model.Actor{Role: model.RoleSystem, InstitutionID: 1}), model.FeedQuery{Limit: 500})
	// queued is newest first: refuse the third and fourth oldest.
	refuseAE, refuseAR = queued[len(queued)-3].ControlID, queued[len(queued)-4].ControlID
	drain(t, f, clock, n*2+20)
	got := his.received()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	if seen[refuseAE] != 5 || seen[refuseAR] != 1 || len(seen) != n {
		t.Fatalf("AE message sent %d times, AR %d, %d distinct of %d", seen[refuseAE], seen[refuseAR], len(seen), n)
	}
	for id, k := range seen {
		if k != 1 && id != refuseAE {
			t.Fatalf("%s sent %d times", id, k)
		}
	}
	dead, _ := db.FeedMessages(model.WithActor(ctx, model.Actor{Role: model.RoleSystem, InstitutionID: 1}), model.FeedQuery{Status: model.FeedDead})
	if len(dead) != 2 || !strings.Contains(dead[0].LastError+dead[1].LastError, "患者不存在") {
		t.Fatalf("dead letters %+v", dead)
	}
	// Replayed after the cause is fixed, the AR message goes out again.
	his.answer = nil
	admin := model.WithActor(ctx, model.Actor{Role: model.RoleAdmin, InstitutionID: 1})
	var arID int64
	for _, d := range dead {
		if d.ControlID == refuseAR {
			arID = d.ID
		}
	}
	if _, err := db.ReplayFeedMessage(admin, arID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ReplayFeedMessage(admin, arID); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("replaying twice: %v", err)
	}
	drain(t, f, clock, 5)
	if got := his.received(); got[len(got)-1] != refuseAR || len(got) != len(seen)+5 {
		t.Fatalf("the replay went out as %s (%d messages)", got[len(got)-1], len(got))
	}
}
