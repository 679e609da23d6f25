package model

import (
	"encoding/json"
	"time"
)

// CDC operations.
const (
	OpCreate = "c"
	OpUpdate = "u"
	OpDelete = "d"
)

// ChangeEvent is the CDC envelope of one committed change: what the outbox
// holds and what the relay ships to the warehouse. Payload is the JSON of the
// full row after the change. Seq is strictly increasing in commit order;
// Version increases per (Entity, EntityID); all events of one transaction
// share TxID.
type ChangeEvent struct {
	Seq           int64           `json:"seq"`
	Entity        string          `json:"entity"`
	EntityID      int64           `json:"entity_id"`
	Op            string          `json:"op"`
	Version       int64           `json:"version"`
	OccurredAt    time.Time       `json:"occurred_at"`
	TxID          int64           `json:"tx_id"`
	InstitutionID int64           `json:"institution_id"`
	Payload       json.RawMessage `json:"payload"`
}

// StatusChange is one row of the append-only status history.
type StatusChange struct {
	ID            int64     `json:"id"`
	InstitutionID int64     `json:"institution_id"`
	Entity        string    `json:"entity"`
	EntityID      int64     `json:"entity_id"`
	FromStatus    string    `json:"from_status"`
	ToStatus      string    `json:"to_status"`
	At            time.Time `json:"at"`
	ActorID       int64     `json:"actor_id"`
	ActorRole     string    `json:"actor_role"`
	Reason        string    `json:"reason"`
	TxID          int64     `json:"tx_id"`
}
