package storetest

import (
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/hisfeed"
	"github.com/zhiliao/zhiliao/model"
)

// testHL7Feed: the feed reads the outbox from where a new peer starts (the
// head), queues booking, move, cancel and no-show as SIU S12, S13, S15,
// S26 in that order, each once; a stale reader's enqueue is refused; the
// outbox keeps what the feed has not read, whatever the warehouse holds.
func testHL7Feed(t *testing.T) {
	e := newEnv(t)
	before, _ := e.course(e.plain, 3) // booked before the peer was configured: not told
	slots := e.slots(2)
	_, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: before.ID, SlotID: slots[0].ID, Channel: model.ChannelPhone})
	e.must(err)
	feed := &hisfeed.Feed{Core: e.db, Peer: hisfeed.Peer{Name: "his"}, Now: e.clock.Now}
	from, err := e.db.FeedCheckpoint(e.ctx, "his")
	e.must(err)
	if head, _ := e.db.OutboxHead(e.ctx); from != head || from == 0 {
		t.Fatalf("a new peer starts at %d, the head is %d", from, head)
	}

	c, _ := e.course(e.plain, 3)
	a, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c.ID, SlotID: slots[1].ID, Channel: model.ChannelPhone})
	e.must(err)
	moved, err := e.db.RescheduleAppointment(e.ctx, a.ID, slots[2].ID)
	e.must(err)
	c2, _ := e.course(e.plain, 3)
	b, err := e.db.BookAppointment(e.ctx, model.NewAppointment{CourseID: c2.ID, SlotID: slots[3].ID, Channel: model.ChannelPhone})
	e.must(err)
	_, err = e.db.CancelAppointment(e.ctx, b.ID, "患者出差")
	e.must(err)
	e.clock.Set(slots[2].EndAt.Add(2 * time.Hour))
	_, err = e.db.MarkNoShow(e.ctx, moved.ID)
	e.must(err)

	n, err := feed.Enqueue(e.ctx)
	e.must(err)
	msgs, err := e.db.FeedMessages(model.WithActor(e.ctx, model.Actor{Role: model.RoleSystem, InstitutionID: e.inst.ID}), model.FeedQuery{Peer: "his"})
	e.must(err)
	var types []string
	for i := len(msgs) - 1; i >= 0; i-- {
		types = append(types, msgs[i].Type)
	}
	want := []string{"SIU^S12", "SIU^S13", "SIU^S12", "SIU^S15", "SIU^S26"}
	if n != len(want) || len(types) != len(want) {
		t.Fatalf("queued %d: %v, want %v", n, types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("queued %v, want %v", types, want)
		}
	}
	if again, err := feed.Enqueue(e.ctx); err != nil || again != 0 {
		t.Fatalf("a second reading queued %d (%v)", again, err)
	}
	head, _ := e.db.OutboxHead(e.ctx)
	if _, err := e.db.EnqueueFeed(e.ctx, "his", from, head, nil); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("a stale reader's enqueue: %v", err)
	}

	// The warehouse holds everything; the feed is paused behind its
	// checkpoint: pruning leaves the feed's unread events.
	e.must(e.db.SaveCheckpoint(e.ctx, "wh", head))
	at, err := e.db.FeedCheckpoint(e.ctx, "his")
	e.must(err)
	e.course(e.plain, 1) // more changes, which the feed has not read
	head, _ = e.db.OutboxHead(e.ctx)
	e.must(e.db.SaveCheckpoint(e.ctx, "wh", head))
	_, err = e.db.PruneOutbox(e.ctx, e.clock.Now().Add(time.Hour))
	e.must(err)
	evs, err := e.db.ReadOutbox(e.ctx, at, 100, nil)
	e.must(err)
	if len(evs) == 0 || evs[0].Seq != at+1 {
		t.Fatalf("after pruning, the feed reads %d events from %d", len(evs), at)
	}
}
