package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/vault"
)

// DeadLetter is an HL7 message the intake could not apply.
type DeadLetter struct {
	ID            int64
	InstitutionID int64
	MessageID     string
	Raw           []byte
	AckCode       string
	Reason        string
}

// deadLetterColumn names the sealed raw message (vault.go): an HL7 order
// carries the patient's phone and ID number in its PID segment.
const deadLetterColumn = "his_dead_letter.raw"

// AddDeadLetter keeps a message the HIS intake could not apply, sealed with
// SM4 on a core with keys.
func (db *DB) AddDeadLetter(ctx context.Context, institutionID int64, messageID string, raw []byte, code, reason string) error {
	if k := db.keyring(); k != nil {
		raw = []byte(k.Seal(deadLetterColumn, string(raw)))
	}
	_, err := db.w.ExecContext(ctx, db.sqlText(`INSERT INTO his_dead_letter (institution_id, received_at, message_id, raw, ack_code, reason)
VALUES (?, ?, ?, ?, ?, ?)`), institutionID, formatTime(db.Now()), messageID, raw, code, reason)
	return err
}

// PendingDeadLetters lists dead letters not yet replayed successfully, oldest first.
func (db *DB) PendingDeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	rows, err := db.r.QueryContext(ctx, db.sqlText(`SELECT id, institution_id, message_id, raw, ack_code, reason FROM his_dead_letter
WHERE replayed_at IS NULL ORDER BY id LIMIT ?`), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		if err := rows.Scan(&d.ID, &d.InstitutionID, &d.MessageID, &d.Raw, &d.AckCode, &d.Reason); err != nil {
			return nil, err
		}
		if vault.IsSealed(string(d.Raw)) {
			clear, err := db.openValue(deadLetterColumn, string(d.Raw))
			if err != nil {
				return nil, fmt.Errorf("dead letter %d: %w", d.ID, err)
			}
			d.Raw = []byte(clear)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// MarkDeadLetterReplayed records a successful replay; result is the ACK text.
func (db *DB) MarkDeadLetterReplayed(ctx context.Context, id int64, result string) error {
	res, err := db.w.ExecContext(ctx, db.sqlText("UPDATE his_dead_letter SET replayed_at = ?, replay_result = ? WHERE id = ? AND replayed_at IS NULL"),
		formatTime(db.Now()), result, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return sql.ErrNoRows
	}
	return nil
}

// HL7DeadLetters lists the actor's institution's messages in from the HIS
// still waiting for a replay, oldest first.
func (db *DB) HL7DeadLetters(ctx context.Context, limit int) ([]model.HL7DeadLetter, error) {
	letters, err := db.PendingDeadLetters(ctx, 10_000)
	if err != nil {
		return nil, err
	}
	inst := model.ActorFrom(ctx).InstitutionID
	out := []model.HL7DeadLetter{}
	for _, d := range letters {
		if d.InstitutionID == inst && len(out) < limit {
			out = append(out, model.HL7DeadLetter{ID: d.ID, MessageID: d.MessageID, Raw: string(d.Raw), AckCode: d.AckCode, Reason: d.Reason})
		}
	}
	return out, nil
}
