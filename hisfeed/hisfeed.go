// Package hisfeed tells the HIS and the integration platform what happened
// in the treatment day, as HL7 v2 messages over MLLP (DESIGN.md §11):
// SIU^S12 when an appointment is booked, S13 when it is moved to another
// slot, S15 when it is cancelled, S26 when the patient did not come, and
// ORM^O01 (ORC-1 SC, ORC-5 CM) when a session is done and its charge
// confirmed. It is driven from the outbox: each peer reads the changes from
// its own checkpoint and queues one message per change in the same
// transaction that moves the checkpoint, so a change is told once, in
// order, across restarts. The sender delivers the queue strictly in order:
// a peer that is down delays every later message and loses none; an AE is
// retried and then given up with its reason, an AR is given up at once; a
// message given up can be replayed from the integration engineer's page.
// Off unless a peer is configured.
package hisfeed

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/interop/hl7v2"
	"github.com/zhiliao/zhiliao/interop/mllp"
	"github.com/zhiliao/zhiliao/model"
)

// Core is what the feed needs of the store.
type Core interface {
	FeedCheckpoint(ctx context.Context, peer string) (int64, error)
	ReadOutbox(ctx context.Context, after int64, limit int, buf []model.ChangeEvent) ([]model.ChangeEvent, error)
	EnqueueFeed(ctx context.Context, peer string, from, through int64, msgs []model.FeedMessage) (int, error)
	FeedFacts(ctx context.Context, institutionID, patientID, slotID, deptID, projectID, staffID, orderID int64) (*model.FeedFacts, error)
	NextFeedMessage(ctx context.Context, peer string) (*model.FeedMessage, error)
	FeedAcked(ctx context.Context, id int64, ackCode string) error
	FeedRetry(ctx context.Context, id int64, ackCode, reason string, next time.Time) error
	FeedDead(ctx context.Context, id int64, ackCode, reason string) error
}

// Peer is a receiver of the feed.
type Peer struct {
	Name     string // the feed's name for it ("his"), its checkpoint's key
	Addr     string // host:port of its MLLP listener
	App      string // MSH-5, the receiving application
	Facility string // MSH-6
}

// Feed delivers the outbox's changes to one peer.
type Feed struct {
	Core   Core
	Peer   Peer
	Client *mllp.Client // one attempt per Send: the feed keeps its own retries, durably
	Now    func() time.Time
	Logger *slog.Logger
	// ApplicationErrors is how many AE answers a message gets before it is
	// given up (default 5).
	ApplicationErrors int64

	buf []model.ChangeEvent
}

// batch is how many outbox events one pass reads.
const batch = 500

func (f *Feed) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Enqueue reads the changes since the peer's checkpoint and queues their
// messages; it returns how many it queued.
func (f *Feed) Enqueue(ctx context.Context) (int, error) {
	total := 0
	for {
		from, err := f.Core.FeedCheckpoint(ctx, f.Peer.Name)
		if err != nil {
			return total, err
		}
		evs, err := f.Core.ReadOutbox(ctx, from, batch, f.buf[:0])
		f.buf = evs
		if err != nil || len(evs) == 0 {
			return total, err
		}
		// A transaction's events are read together (a move is a cancel
		// and a booking): a full batch stops before its last transaction,
		// which the next pass reads whole.
		if len(evs) == batch {
			last := evs[len(evs)-1].TxID
			cut := len(evs)
			for cut > 0 && evs[cut-1].TxID == last {
				cut--
			}
			if cut > 0 {
				evs = evs[:cut]
			}
		}
		msgs, err := f.messages(ctx, evs)
		if err != nil {
			return total, err
		}
		n, err := f.Core.EnqueueFeed(ctx, f.Peer.Name, from, evs[len(evs)-1].Seq, msgs)
		if model.ErrorCode(err) == model.ECONFLICT {
			continue // another instance moved it: read from where it stands
		}
		if err != nil {
			return total, err
		}
		total += n
		if len(f.buf) < batch {
			return total, nil
		}
	}
}

// messages are the messages a stretch of the outbox tells.
func (f *Feed) messages(ctx context.Context, evs []model.ChangeEvent) ([]model.FeedMessage, error) {
	// Courses whose appointment a transaction moved (cancelled 改约 and
	// booked again): the booking is told as S13, the cancel not at all.
	moved := map[[2]int64]int64{}
	var out []model.FeedMessage
	for _, ev := range evs {
		if ev.Entity != "appointment" || ev.Op == model.OpCreate {
			continue
		}
		var a model.Appointment
		if err := json.Unmarshal(ev.Payload, &a); err != nil {
			return nil, fmt.Errorf("outbox %d: %w", ev.Seq, err)
		}
		if a.Status == model.ApptCancelled && strings.HasPrefix(a.CancelReason, "改约") {
			moved[[2]int64{ev.TxID, a.CourseID}] = a.ID
		}
	}
	for _, ev := range evs {
		switch ev.Entity {
		case "appointment":
			var a model.Appointment
			if err := json.Unmarshal(ev.Payload, &a); err != nil {
				return nil, fmt.Errorf("outbox %d: %w", ev.Seq, err)
			}
			var event string
			var previous int64
			switch {
			case ev.Op == model.OpCreate && a.Status == model.ApptBooked:
				event = "S12"
				if old, ok := moved[[2]int64{ev.TxID, a.CourseID}]; ok {
					event, previous = "S13", old
				}
			case ev.Op != model.OpCreate && a.Status == model.ApptCancelled && !strings.HasPrefix(a.CancelReason, "改约"):
				event = "S15"
			case ev.Op != model.OpCreate && a.Status == model.ApptNoShow:
				event = "S26"
			default:
				continue
			}
			m, err := f.siu(ctx, ev, &a, event, previous)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		case "session":
			var s model.Session
			if err := json.Unmarshal(ev.Payload, &s); err != nil {
				return nil, fmt.Errorf("outbox %d: %w", ev.Seq, err)
			}
			if s.Status != model.SessionCompleted || !s.ChargeConfirmed {
				continue
			}
			m, err := f.orm(ctx, ev, &s)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// ts is an HL7 timestamp in China time.
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(model.Local).Format("20060102150405")
}

func pid(f *model.FeedFacts) string {
	p, inst := f.Patient, f.Institution
	var sex string
	switch p.Gender {
	case "M", "F":
		sex = p.Gender
	default:
		sex = "U"
	}
	birth := strings.ReplaceAll(p.BirthDate, "-", "")
	return hl7v2.Segment("PID", "1", "", hl7v2.Field(p.MRN, "", "", inst.Code, "MR"), "", hl7v2.Field(p.Name), "", hl7v2.Field(birth), hl7v2.Field(sex))
}

var siuStatus = map[string]string{"S12": "Booked", "S13": "Booked", "S15": "Cancelled", "S26": "Noshow"}

// siu is an SIU message of an appointment event (HL7 v2.5 chapter 10).
func (f *Feed) siu(ctx context.Context, ev model.ChangeEvent, a *model.Appointment, event string, previous int64) (model.FeedMessage, error) {
	facts, err := f.Core.FeedFacts(ctx, ev.InstitutionID, a.PatientID, a.SlotID, a.DeptID, a.ProjectID, 0, 0)
	if err != nil {
		return model.FeedMessage{}, err
	}
	if facts.Slot != nil && facts.Slot.StaffID != 0 {
		if st, err := f.Core.FeedFacts(ctx, 0, 0, 0, 0, 0, facts.Slot.StaffID, 0); err == nil {
			facts.Staff = st.Staff
		}
	}
	control := fmt.Sprintf("ZL-A%d-%s", a.ID, event)
	minutes := ""
	var start, end time.Time
	if facts.Slot != nil {
		start, end = facts.Slot.StartAt, facts.Slot.EndAt
		minutes = strconv.Itoa(int(end.Sub(start).Minutes()))
	}
	reason := ""
	switch event {
	case "S13":
		reason = fmt.Sprintf("改约（原预约 %d）", previous)
	case "S15":
		reason = a.CancelReason
	case "S26":
		reason = "爽约"
	}
	id := hl7v2.Field(strconv.FormatInt(a.ID, 10), "ZHILIAO")
	var b strings.Builder
	b.WriteString(hl7v2.Header(f.Peer.App, f.Peer.Facility, ts(f.now()), "SIU^"+event+"^SIU_S12", control))
	b.WriteString(hl7v2.Segment("SCH", id, id, "", "", "", hl7v2.Field("", reason), hl7v2.Field(facts.Project.Code, facts.Project.Name, "ZL-CHARGE"),
		"", minutes, hl7v2.Field("min"), hl7v2.Field("", "", minutes, ts(start), ts(end)),
		"", "", "", "", "", "", "", "", "", "", "", "", "", hl7v2.Field(siuStatus[event])))
	b.WriteString(pid(facts))
	b.WriteString(hl7v2.Segment("RGS", "1", "A"))
	b.WriteString(hl7v2.Segment("AIS", "1", "A", hl7v2.Field(facts.Project.Code, facts.Project.Name, "ZL-CHARGE"), ts(start), "", "", minutes, hl7v2.Field("min")))
	if facts.Staff != nil {
		b.WriteString(hl7v2.Segment("AIG", "1", "A", hl7v2.Field(facts.Staff.Code, facts.Staff.Name)))
	}
	if facts.Dept != nil {
		b.WriteString(hl7v2.Segment("AIL", "1", "A", hl7v2.Field("", "", "", facts.Dept.Code+" "+facts.Dept.Name)))
	}
	return model.FeedMessage{Seq: ev.Seq, InstitutionID: ev.InstitutionID, PatientID: a.PatientID, Type: "SIU^" + event, ControlID: control,
		Entity: ev.Entity, EntityID: a.ID, Message: b.String()}, nil
}

// orm is the order status message of a session done and charged: the HIS
// order (ORC-2, the HIS's own number) completed for this session.
func (f *Feed) orm(ctx context.Context, ev model.ChangeEvent, s *model.Session) (model.FeedMessage, error) {
	facts, err := f.Core.FeedFacts(ctx, ev.InstitutionID, s.PatientID, 0, s.DeptID, s.ProjectID, s.PerformerID, s.OrderID)
	if err != nil {
		return model.FeedMessage{}, err
	}
	control := fmt.Sprintf("ZL-S%d-CM", s.ID)
	var orderNo string
	if facts.Order != nil {
		orderNo = facts.Order.OrderNo
	}
	var ended time.Time
	if s.EndedAt != nil {
		ended = *s.EndedAt
	}
	performer := ""
	if facts.Staff != nil {
		performer = hl7v2.Field(facts.Staff.Code, facts.Staff.Name)
	}
	filler := hl7v2.Field(strconv.FormatInt(s.ID, 10), "ZHILIAO")
	var b strings.Builder
	b.WriteString(hl7v2.Header(f.Peer.App, f.Peer.Facility, ts(f.now()), "ORM^O01^ORM_O01", control))
	b.WriteString(pid(facts))
	b.WriteString(hl7v2.Segment("ORC", "SC", hl7v2.Field(orderNo), filler, "", "CM", "", hl7v2.Field(strconv.FormatInt(s.Units, 10)), "", ts(ended), "", "", performer))
	b.WriteString(hl7v2.Segment("OBR", "1", hl7v2.Field(orderNo), filler, hl7v2.Field(facts.Project.Code, facts.Project.Name, "ZL-CHARGE"),
		"", "", ts(s.StartedAt), ts(ended), "", "", "", "", "", "", "", "", "", "", "", "", "", "", fmt.Sprintf("%.2f", float64(s.ChargeFen)/100), "", "F"))
	return model.FeedMessage{Seq: ev.Seq, InstitutionID: ev.InstitutionID, PatientID: s.PatientID, Type: "ORM^O01", ControlID: control,
		Entity: ev.Entity, EntityID: s.ID, Message: b.String()}, nil
}

// backoff is the wait before attempt n+1: 1 s doubling, at most a minute.
func backoff(attempts int64) time.Duration {
	d := time.Second << min(attempts, 6)
	return min(d, time.Minute)
}

// SendNext tries the oldest queued message. It returns how long to wait
// before the next call (0: call again at once; idle: the queue is empty).
func (f *Feed) SendNext(ctx context.Context) (wait time.Duration, idle bool, err error) {
	m, err := f.Core.NextFeedMessage(ctx, f.Peer.Name)
	if err != nil || m == nil {
		return 0, m == nil, err
	}
	now := f.now()
	if m.NextAt.After(now) {
		return m.NextAt.Sub(now), false, nil
	}
	raw, sendErr := f.Client.Send(ctx, []byte(m.Message))
	var ack *hl7v2.Message
	if sendErr == nil {
		ack, sendErr = hl7v2.Parse(raw)
	}
	// A replayed message keeps its MSH-10 (the row's key is new): the ACK
	// must name the control id the message carries.
	if sendErr == nil {
		sent, err := hl7v2.Parse([]byte(m.Message))
		if err != nil {
			return 0, false, fmt.Errorf("queued message %d: %w", m.ID, err)
		}
		if ack.Field("MSA", 2) != sent.ControlID() {
			sendErr = fmt.Errorf("ACK names message %q, not %q", ack.Field("MSA", 2), sent.ControlID())
		}
	}
	if sendErr != nil {
		// The peer is down or garbled its answer: wait and try the same
		// message again; nothing after it goes first.
		d := backoff(m.Attempts)
		return d, false, f.Core.FeedRetry(ctx, m.ID, "", "未送达 not delivered: "+sendErr.Error(), now.Add(d))
	}
	code := ack.Field("MSA", 1)
	reason := strings.TrimSpace(ack.Field("MSA", 3) + " " + ack.Field("ERR", 8))
	limit := f.ApplicationErrors
	if limit <= 0 {
		limit = 5
	}
	switch code {
	case "AA", "CA":
		return 0, false, f.Core.FeedAcked(ctx, m.ID, code)
	case "AE", "CE":
		if m.Attempts+1 >= limit {
			f.log().Warn("HL7 message given up", "peer", f.Peer.Name, "control_id", m.ControlID, "ack", code, "reason", reason)
			return 0, false, f.Core.FeedDead(ctx, m.ID, code, fmt.Sprintf("对方 %d 次拒收 (AE): %s", m.Attempts+1, reason))
		}
		d := backoff(m.Attempts)
		return d, false, f.Core.FeedRetry(ctx, m.ID, code, "对方暂时拒收 (AE): "+reason, now.Add(d))
	default: // AR, CR and anything else: the peer will never take it
		f.log().Warn("HL7 message rejected", "peer", f.Peer.Name, "control_id", m.ControlID, "ack", code, "reason", reason)
		return 0, false, f.Core.FeedDead(ctx, m.ID, code, "对方拒绝 ("+code+"): "+reason)
	}
}

func (f *Feed) log() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run queues and sends until ctx ends, looking at the outbox every period.
func (f *Feed) Run(ctx context.Context, every time.Duration) {
	for ctx.Err() == nil {
		if _, err := f.Enqueue(ctx); err != nil && ctx.Err() == nil {
			f.log().Error("HL7 feed: reading the outbox", "peer", f.Peer.Name, "err", err)
		}
		pause := every
		for ctx.Err() == nil {
			wait, idle, err := f.SendNext(ctx)
			if err != nil {
				if ctx.Err() == nil {
					f.log().Error("HL7 feed: sending", "peer", f.Peer.Name, "err", err)
				}
				break
			}
			if idle {
				break
			}
			if wait > 0 {
				pause = min(wait, every)
				break
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}
