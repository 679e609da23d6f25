package cdc

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/warehouse"
)

// ReplayResult says what a dead-letter replay did.
type ReplayResult struct {
	Replayed []int64          // landed now and marked resolved
	Failed   map[int64]string // still undecodable: seq → reason
}

// ReplayDeadLetters tries every unresolved dead letter again, from the
// payload it kept, against the warehouse's current schema (after an upgrade
// that taught it the new column, say). Those that now decode land and are
// marked resolved; the rest stay with their new reason.
func ReplayDeadLetters(ctx context.Context, wh warehouse.Warehouse) (ReplayResult, error) {
	res := ReplayResult{Failed: map[int64]string{}}
	hws, err := wh.HighWaters(ctx)
	if err != nil {
		return res, err
	}
	dls, err := wh.DeadLetters(ctx, 1<<20)
	if err != nil {
		return res, err
	}
	bb := warehouse.NewBatchBuilder()
	defer bb.Release()
	for _, d := range dls {
		if d.Seq > hws[model.NamespaceOf(d.Seq)] {
			continue // its batch has not finished landing; the relay will redeliver it
		}
		ev := model.ChangeEvent{Seq: d.Seq, Entity: d.Entity, EntityID: d.EntityID, Op: d.Op, Version: d.Version,
			OccurredAt: d.OccurredAt, TxID: d.TxID, InstitutionID: d.InstitutionID, Payload: []byte(d.Payload)}
		bb.Add(&ev)
		b := bb.Build()
		if len(b.DeadLetters) > 0 {
			res.Failed[d.Seq] = b.DeadLetters[0].Reason
			b.Release()
			continue
		}
		err := wh.Append(ctx, b)
		b.Release()
		if err != nil {
			return res, fmt.Errorf("dead letter %d: %w", d.Seq, err)
		}
		if err := wh.ResolveDeadLetters(ctx, []int64{d.Seq}); err != nil {
			return res, err
		}
		res.Replayed = append(res.Replayed, d.Seq)
	}
	return res, nil
}

// Rebuild recreates the warehouse from the core: it empties it (a new
// warehouse id), loads a snapshot of every row whose latest version the
// outbox no longer holds, then replays the outbox. In a regional warehouse,
// which also holds other hospitals' cores, it empties only this core's
// namespace (Warehouse.ResetNamespace: the id and the other cores' rows
// stay, and their relays go on); the marts then need a full ETL run. The
// relay of this core must not be running against the warehouse meanwhile.
// Progress lines go to progress.
func Rebuild(ctx context.Context, core Outbox, wh warehouse.Warehouse, relay *Relay, progress io.Writer) error {
	began := time.Now()
	hws, err := wh.HighWaters(ctx)
	if err != nil {
		return fmt.Errorf("warehouse high water: %w", err)
	}
	ns := core.Namespace()
	shared := false
	for other := range hws {
		shared = shared || other != ns
	}
	if shared {
		if progress != nil {
			fmt.Fprintf(progress, "重建 rebuild: 区域数据仓库 warehouse %s holds %d cores; emptying only this core's namespace %d\n", wh.ID(), len(hws), ns)
		}
		if err := wh.ResetNamespace(ctx, ns); err != nil {
			return fmt.Errorf("empty namespace %d: %w", ns, err)
		}
	} else if err := wh.Reset(ctx); err != nil {
		return fmt.Errorf("reset warehouse: %w", err)
	}
	// The rows sent again may repeat blocks the warehouse took before.
	ctx = warehouse.Reland(ctx)
	bb := warehouse.NewBatchBuilder()
	defer bb.Release()
	batch := relay.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	rows := 0
	flush := func() error {
		if bb.Len() == 0 {
			return nil
		}
		b := bb.Build()
		defer b.Release()
		b.Namespace = ns
		return wh.Append(ctx, b)
	}
	head, pruned, err := core.Snapshot(ctx, func(ev model.ChangeEvent) error {
		bb.AddSnapshot(&ev)
		rows++
		if bb.Len() >= batch {
			if err := flush(); err != nil {
				return err
			}
			if progress != nil && rows%(batch*10) == 0 {
				fmt.Fprintf(progress, "重建 rebuild: 快照 snapshot %d rows · %.0fs\n", rows, time.Since(began).Seconds())
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if pruned > 0 {
		// The snapshot stands in for the pruned events: the warehouse holds
		// everything up to pruned, and the relay goes on after it.
		if err := wh.Append(ctx, &warehouse.Batch{FirstSeq: model.NamespaceBase(ns) + 1, LastSeq: pruned, Namespace: ns}); err != nil {
			return err
		}
	}
	if progress != nil {
		fmt.Fprintf(progress, "重建 rebuild: 快照 snapshot %d rows (outbox pruned through seq %d) · replaying the outbox to seq %d\n", rows, pruned, head)
	}
	relay.Core, relay.Warehouse = core, wh
	if err := relay.Drain(ctx); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if progress != nil {
		fmt.Fprintf(progress, "重建 rebuild: done · warehouse %s holds seq %d · %.1fs\n", wh.ID(), relay.Shipped(), time.Since(began).Seconds())
	}
	return nil
}
