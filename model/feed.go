package model

import (
	"strings"
	"time"
)

// HL7 v2 messages out (DESIGN.md §11): what the core tells the HIS and the
// integration platform, one message per change, delivered in order.

// Delivery statuses of a message out.
const (
	FeedQueued = "queued"   // waiting for its turn or its next attempt
	FeedAcked  = "acked"    // the peer accepted it (AA)
	FeedDead   = "dead"     // refused for good, or given up: the reason is kept
	FeedReplay = "replayed" // a dead message sent again as a new one
)

// FeedMessage is one HL7 v2 message out and its delivery.
type FeedMessage struct {
	ID            int64      `json:"id"`
	Peer          string     `json:"peer"`
	Seq           int64      `json:"seq"` // the outbox position of the change it tells
	InstitutionID int64      `json:"institution_id"`
	PatientID     int64      `json:"patient_id"`
	Type          string     `json:"type"` // SIU^S12, ORM^O01…
	ControlID     string     `json:"control_id"`
	Entity        string     `json:"entity"`
	EntityID      int64      `json:"entity_id"`
	Message       string     `json:"message"`
	Status        string     `json:"status"`
	Attempts      int64      `json:"attempts"`
	AckCode       string     `json:"ack_code"`
	LastError     string     `json:"last_error"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAt        time.Time  `json:"next_at"`
	DoneAt        *time.Time `json:"done_at"`
}

// FeedFacts are the core's rows a message out names, read as the system.
type FeedFacts struct {
	Institution *Institution
	Patient     *Patient
	Slot        *Slot
	Dept        *Department
	Project     *Project
	Staff       *Staff
	Order       *Order
}

// FeedQuery selects messages out for the integration engineer's page.
type FeedQuery struct {
	Peer, Status string
	Limit        int
}

// HL7DeadLetter is an HL7 message in from the HIS that could not be
// applied, kept for replay.
type HL7DeadLetter struct {
	ID        int64  `json:"id"`
	MessageID string `json:"message_id"` // MSH-10
	Raw       string `json:"raw"`
	AckCode   string `json:"ack_code"`
	Reason    string `json:"reason"`
}

// MaskHL7 masks a message's patient identity (PID-3 the MRN, PID-5 the
// name, PID-13 the phone, PID-19 the ID number) for a reader who sees
// patients de-identified, leaving every other field as sent.
func MaskHL7(msg string) string {
	segs := strings.Split(strings.ReplaceAll(msg, "\n", "\r"), "\r")
	for i, s := range segs {
		if !strings.HasPrefix(s, "PID|") {
			continue
		}
		f := strings.Split(s, "|")
		mask := func(n int, fn func(string) string) {
			if n < len(f) && f[n] != "" {
				c := strings.Split(f[n], "^")
				c[0] = fn(c[0])
				f[n] = strings.Join(c, "^")
			}
		}
		mask(3, MaskMRN)
		mask(5, MaskName)
		mask(13, MaskPhone)
		mask(19, MaskIDNumber)
		segs[i] = strings.Join(f, "|")
	}
	return strings.Join(segs, "\r")
}
