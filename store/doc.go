// Package store owns the transactional core's services: the implementations
// of the lifecycle services of package model, accounts and the audit log,
// the vault's sealing, and the CDC outbox. Every write runs in one
// transaction that also appends the change's CDC events to cdc_outbox and
// its status changes to the append-only status_history, so a committed
// change always has its events and a rolled-back one has none.
//
// The services are engine-neutral. The database they run on is an
// engine.Engine: store/sqlite (the embedded default) or store/postgres,
// each with its own numbered migrations; Open picks one by the core's
// location. store/storetest is the contract suite that runs every service
// test on both.
//
// It imports model, vault and the standard library; it knows nothing of
// HTTP or the warehouse.
package store
