// Package model owns zhiliao's domain vocabulary: the entities of the treatment
// lifecycle, their states and the guarded transitions between them, the service
// interfaces the adapters implement, the CDC envelope, and the one error type
// with machine-readable codes.
//
// It imports only the standard library. Every other package speaks to the
// others in these types (see STYLE.md: model ← store, warehouse ← ingest, etl,
// reports ← api ← cmd).
package model
