// Package store owns the transactional core: the SQLite database (the embedded
// default), its numbered migrations, and the implementations of the lifecycle
// services of package model. Every write runs in one transaction that also
// appends the change's CDC events to cdc_outbox and its status changes to the
// append-only status_history, so a committed change always has its events and
// a rolled-back one has none.
//
// It imports model and the standard library plus the SQLite driver and the
// migration library; it knows nothing of HTTP or the warehouse.
package store
