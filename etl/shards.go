package etl

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zhiliao/zhiliao/warehouse"
)

// runShards builds the marts of a sharded warehouse shard by shard: each
// shard's marts from that shard's rows alone (each namespace lives on one
// shard), logged in that shard's run log. The results are the shards'
// merged per mart. The shards run side by side; each is its own servers.
func (r *Runner) runShards(ctx context.Context, sh warehouse.Sharded, opt Options) ([]Result, error) {
	shards := sh.Shards()
	if len(r.shardRunners) != len(shards) {
		r.shardRunners = make([]*Runner, len(shards))
		for i, w := range shards {
			// The schema is cluster-wide, and this runner made it.
			r.shardRunners[i] = &Runner{Warehouse: w, Logger: r.Logger, Now: r.Now, Placeholders: r.Placeholders,
				shard: int64(i + 1), schema: true}
		}
	}
	results := make([][]Result, len(shards))
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, sr := range r.shardRunners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c, ok := sr.Warehouse.(interface{ CaughtUp(context.Context) error }); ok {
				if err := c.CaughtUp(ctx); err != nil {
					errs[i] = fmt.Errorf("shard %d: %w", i+1, err)
					return
				}
			}
			results[i], errs[i] = sr.Run(ctx, opt)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("shard %d: %w", i+1, errs[i])
			}
		}()
	}
	wg.Wait()
	merged := map[string]*Result{}
	var order []string
	for _, rs := range results {
		for _, res := range rs {
			m := merged[res.Mart]
			if m == nil {
				c := res
				c.Watermarks = Watermarks{}
				for ns, seq := range res.Watermarks {
					c.Watermarks[ns] = seq
				}
				merged[res.Mart], order = &c, append(order, res.Mart)
				continue
			}
			m.Full = m.Full || res.Full
			if res.Status != "ok" {
				m.Status = res.Status
				m.Error = errors.Join(errors.New(m.Error), errors.New(res.Error)).Error()
			}
			if m.Days < 0 || res.Days < 0 {
				m.Days = -1
			} else {
				m.Days += res.Days
			}
			m.Rows += res.Rows
			for ns, seq := range res.Watermarks {
				m.Watermarks[ns] = seq
			}
			if res.StartedAt.Before(m.StartedAt) {
				m.StartedAt = res.StartedAt
			}
			if res.Finished.After(m.Finished) {
				m.Finished = res.Finished
			}
		}
	}
	out := make([]Result, 0, len(order))
	for _, name := range order {
		m := merged[name]
		m.Watermark = m.Watermarks.Progress()
		r.Metrics.observe(*m)
		out = append(out, *m)
	}
	r.stamps.invalidate()
	return out, errors.Join(errs...)
}
