package his

import (
	"context"
	"strings"

	"github.com/zhiliao/zhiliao/interop/hl7v2"
	"github.com/zhiliao/zhiliao/store"
)

// DeadLetterStore is where replay finds the kept messages.
type DeadLetterStore interface {
	PendingDeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error)
	MarkDeadLetterReplayed(ctx context.Context, id int64, result string) error
}

// Replay runs pending dead letters through the intake again, oldest first.
// A letter that is accepted now is marked replayed; one still refused stays
// pending as it is, and the refusal adds no new letter.
func Replay(ctx context.Context, in *Intake, dl DeadLetterStore, limit int) (int, error) {
	letters, err := dl.PendingDeadLetters(ctx, limit)
	if err != nil {
		return 0, err
	}
	// The same intake without dead letters: the letter is already kept.
	quiet := &Intake{Orders: in.Orders, InstitutionID: in.InstitutionID, Now: in.Now}
	n := 0
	for _, d := range letters {
		ack := quiet.Handle(ctx, d.Raw)
		m, err := hl7v2.Parse(ack)
		if err != nil || m.Field("MSA", 1) != "AA" {
			continue
		}
		if err := dl.MarkDeadLetterReplayed(ctx, d.ID, strings.TrimSpace(string(ack))); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
