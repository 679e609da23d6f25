package his_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/ingest/his"
	"github.com/zhiliao/zhiliao/internal/testclock"
	"github.com/zhiliao/zhiliao/interop/hl7v2"
	"github.com/zhiliao/zhiliao/interop/mllp"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

// serveMLLP starts an MLLP server on loopback over a fresh core with one
// institution, and returns its address and the core.
func serveMLLP(t *testing.T, srv *mllp.Server, intake *his.Intake) (string, *store.DB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "core.db"), store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	inst := &model.Institution{Code: "H001", Name: "示例医院"}
	must(t, db.CreateInstitution(ctx, inst))
	intake.Orders, intake.DeadLetters, intake.InstitutionID = db, db, inst.ID
	srv.Handle = intake.Handle
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, ln)
	return ln.Addr().String(), db
}

func deadLetters(t *testing.T, db *store.DB) int {
	var n int
	if err := db.Reader().QueryRow("SELECT COUNT(*) FROM his_dead_letter").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMLLPRefusesPeersOutsideTheAllowList: a peer outside --mllp-allow is
// disconnected before a byte of its message is read, and nothing is kept.
func TestMLLPRefusesPeersOutsideTheAllowList(t *testing.T) {
	addr, db := serveMLLP(t, &mllp.Server{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, &his.Intake{})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mllp.WriteFrame(conn, []byte(newOrder))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if ack, err := mllp.ReadFrame(bufio.NewReader(conn), mllp.DefaultMaxFrame); err == nil {
		t.Fatalf("a refused peer got an answer: %q", ack)
	}
	var orders int
	db.Reader().QueryRow("SELECT COUNT(*) FROM his_order").Scan(&orders)
	if orders != 0 || deadLetters(t, db) != 0 {
		t.Fatalf("a refused peer left %d orders, %d dead letters", orders, deadLetters(t, db))
	}
}

// TestMLLPFrameLimitAndDeadLetterCap: a frame over the limit ends its
// connection without being kept; unreadable messages are answered AR but
// kept only up to the cap per peer and hour, and the cap resets the next hour.
func TestMLLPFrameLimitAndDeadLetterCap(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, model.Local))
	intake := &his.Intake{DeadLettersPerHour: 3, Now: clock.Now}
	addr, db := serveMLLP(t, &mllp.Server{MaxFrame: 1024}, intake)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for i := 0; i < 5; i++ {
		mllp.WriteFrame(conn, []byte("MSH|garbage"))
		ack, err := mllp.ReadFrame(r, mllp.DefaultMaxFrame)
		if err != nil || !bytes.Contains(ack, []byte("MSA|AR")) {
			t.Fatalf("garbage %d: %q %v", i, ack, err)
		}
	}
	if n := deadLetters(t, db); n != 3 || intake.Dropped.Load() != 2 {
		t.Fatalf("%d dead letters kept, %d dropped; want 3 and 2", n, intake.Dropped.Load())
	}
	clock.Add(time.Hour)
	mllp.WriteFrame(conn, []byte("MSH|garbage"))
	if _, err := mllp.ReadFrame(r, mllp.DefaultMaxFrame); err != nil || deadLetters(t, db) != 4 {
		t.Fatalf("the next hour keeps again: %d dead letters, %v", deadLetters(t, db), err)
	}
	mllp.WriteFrame(conn, []byte(strings.Repeat("A", 2048)))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if ack, err := mllp.ReadFrame(r, mllp.DefaultMaxFrame); err == nil {
		t.Fatalf("an oversized frame was answered: %q", ack[:min(len(ack), 40)])
	}
	if n := deadLetters(t, db); n != 4 {
		t.Fatalf("an oversized frame was kept: %d dead letters", n)
	}
}

// FuzzHL7: any bytes either fail to parse or map to an order message that
// validates or names the bad field; the ACK of any message parses again.
func FuzzHL7(f *testing.F) {
	f.Add([]byte(newOrder))
	f.Add([]byte("MSH|^~\\&|HIS|H001|ZHILIAO|H001|202611220900||DFT^P03|P1|P|2.5\rFT1|1|||||CR|||||-12.5||||||||||||RX1\r"))
	f.Add([]byte("MSH|^~\\&\r"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := hl7v2.Parse(raw)
		if err != nil {
			return
		}
		o, err := his.OrderFromHL7(m, 1)
		if err != nil && model.ErrorField(err) == "" && model.ErrorCode(err) == model.EINVALID {
			t.Fatalf("a refusal names no field: %v", err)
		}
		if err == nil {
			if verr := o.Validate(); verr != nil {
				t.Fatalf("mapped message does not validate: %v", verr)
			}
		}
		ack := hl7v2.Ack(m, "AE", "x", "20260302090000")
		if _, err := hl7v2.Parse(ack); err != nil {
			t.Fatalf("ACK %q does not parse: %v", ack, err)
		}
	})
}
