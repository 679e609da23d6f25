package notify_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/internal/testclock"
	"github.com/zhiliao/zhiliao/internal/testcore"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/notify"
	"github.com/zhiliao/zhiliao/store"
)

var secret = []byte("the-shared-webhook-secret")

// receiver is a message gateway under test control: it verifies every
// request's signature, counts deliveries per notice id, and answers with
// the status its switch says.
type receiver struct {
	t      *testing.T
	clock  *testclock.Clock
	mu     sync.Mutex
	status int
	delay  time.Duration
	got    map[int64]int
	bad    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := notify.Verify(secret, r.Header.Get("X-Zhiliao-Signature"), body, rc.clock.Now(), 5*time.Minute); err != nil {
		rc.mu.Lock()
		rc.bad++
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	id, _ := strconv.ParseInt(r.Header.Get("X-Zhiliao-Notice-Id"), 10, 64)
	rc.mu.Lock()
	status, delay := rc.status, rc.delay
	if status == http.StatusOK {
		rc.got[id]++
	}
	rc.mu.Unlock()
	time.Sleep(delay)
	w.WriteHeader(status)
}

func (rc *receiver) set(status int, delay time.Duration) {
	rc.mu.Lock()
	rc.status, rc.delay = status, delay
	rc.mu.Unlock()
}

// pilotWithDue returns the pilot core on a clock after its last day, and
// the notices due there: the ones its generator's channel failed to
// deliver (about 3%), each with one failed attempt.
func pilotWithDue(t *testing.T) (*store.DB, *testclock.Clock, []int64) {
	db := testcore.Pilot(t)
	clock := testclock.New(time.Date(2026, 12, 1, 8, 0, 0, 0, model.Local))
	db.Now = clock.Now
	due, err := db.DueNotifications(context.Background(), func(int64) time.Duration { return 0 }, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) == 0 {
		t.Fatal("the pilot has no notice to deliver (its generator leaves about 3% failed)")
	}
	ids := make([]int64, 0, len(due))
	for _, n := range due {
		if n.Status != model.NotifyFailed || n.Attempts != 1 {
			t.Fatalf("due notice %+v", n.Notification)
		}
		ids = append(ids, n.ID)
	}
	return db, clock, ids
}

// dispatcher delivers to url with a minute's backoff and the given timeout
// per delivery.
func dispatcher(db *store.DB, url string, clock *testclock.Clock, maxAttempts int64, timeout time.Duration) *notify.Dispatcher {
	return &notify.Dispatcher{Store: db, Channel: &notify.Webhook{URL: url, Secret: secret, Now: clock.Now},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxAttempts: maxAttempts,
		Backoff: func(int64) time.Duration { return time.Minute }, Timeout: timeout}
}

// TestWebhookFailsThenRecovers: with the gateway down every due notice
// fails and waits out its backoff (a pass before it changes nothing); when
// the gateway is back each is delivered, signed, once; the delivery log
// holds both attempts; a second report of a sent notice changes nothing.
func TestWebhookFailsThenRecovers(t *testing.T) {
	db, clock, ids := pilotWithDue(t)
	rc := &receiver{t: t, clock: clock, status: http.StatusServiceUnavailable, got: map[int64]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	d := dispatcher(db, srv.URL, clock, 5, time.Minute) // no delivery here may fail for want of time
	ctx := context.Background()
	r, err := d.Once(ctx)
	if err != nil || r.Failed != len(ids) || r.Sent != 0 {
		t.Fatalf("gateway down: %+v %v (due %d)", r, err, len(ids))
	}
	rc.set(http.StatusOK, 0)
	if r, err := d.Once(ctx); err != nil || r != (notify.Result{}) {
		t.Fatalf("within the backoff nothing is due: %+v %v", r, err)
	}
	clock.Add(2 * time.Minute)
	if r, err = d.Once(ctx); err != nil || r.Sent != len(ids) || r.Failed != 0 {
		t.Fatalf("gateway back: %+v %v", r, err)
	}
	if rc.bad != 0 {
		t.Errorf("%d requests with a bad signature", rc.bad)
	}
	for _, id := range ids {
		if rc.got[id] != 1 {
			t.Errorf("notice %d delivered %d times", id, rc.got[id])
		}
		log, err := db.NoticeDeliveries(ctx, id)
		if err != nil || len(log) < 2 || log[len(log)-2].OK || !log[len(log)-1].OK || log[len(log)-2].Error == "" {
			t.Fatalf("delivery log of %d: %+v %v", id, log, err)
		}
	}
	n, err := db.RecordDelivery(ctx, ids[0], "webhook", false, "a late duplicate report", 5)
	if err != nil || n.Status != model.NotifySent {
		t.Errorf("a second report of a sent notice: %+v %v", n, err)
	}
}

// TestWebhookDeadLetters: a gateway that never takes a notice, or answers
// too slowly, leaves it dead after the last attempt, and a dead notice is
// no longer tried.
func TestWebhookDeadLetters(t *testing.T) {
	db, clock, ids := pilotWithDue(t)
	rc := &receiver{t: t, clock: clock, got: map[int64]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	d := dispatcher(db, srv.URL, clock, 3, 500*time.Millisecond)
	ctx := context.Background()
	// Leave one notice due: the others are reported delivered.
	for _, id := range ids[1:] {
		if _, err := db.RecordDelivery(ctx, id, "test", true, "", 3); err != nil {
			t.Fatal(err)
		}
	}
	rc.set(http.StatusOK, 5*time.Second) // ten times the timeout
	if r, err := d.Once(ctx); err != nil || r.Failed != 1 {
		t.Fatalf("a slow gateway: %+v %v", r, err)
	}
	rc.set(http.StatusInternalServerError, 0)
	clock.Add(2 * time.Minute)
	if r, err := d.Once(ctx); err != nil || r.Dead != 1 {
		t.Fatalf("the last attempt: %+v %v", r, err)
	}
	clock.Add(time.Hour)
	if r, err := d.Once(ctx); err != nil || r != (notify.Result{}) {
		t.Fatalf("a dead notice is tried again: %+v %v", r, err)
	}
	log, err := db.NoticeDeliveries(ctx, ids[0])
	if err != nil || len(log) != 2 || log[0].OK || log[1].OK {
		t.Errorf("delivery log: %+v %v", log, err)
	}
}

// TestVerifyRefuses: a changed body, another secret, a malformed header
// and a replayed old request all fail verification.
func TestVerifyRefuses(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	body := []byte(`{"id":1}`)
	h := notify.Sign(secret, now, body)
	if err := notify.Verify(secret, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"changed body":  notify.Verify(secret, h, []byte(`{"id":2}`), now, 5*time.Minute),
		"other secret":  notify.Verify([]byte("other"), h, body, now, 5*time.Minute),
		"no signature":  notify.Verify(secret, "t=1", body, now, 5*time.Minute),
		"garbage":       notify.Verify(secret, "nonsense", body, now, 5*time.Minute),
		"replayed late": notify.Verify(secret, h, body, now.Add(time.Hour), 5*time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}
