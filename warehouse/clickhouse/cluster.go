package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/apache/arrow/go/v15/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
	"github.com/zhiliao/zhiliao/warehouse"
)

// Cluster is the regional warehouse of DESIGN.md §8 on a ClickHouse
// cluster of shards × replicas, with ClickHouse's own distribution:
//
//   - DB_local holds, on every server, the tables of the shard the server
//     belongs to: ReplicatedReplacingMergeTree and ReplicatedMergeTree, kept
//     equal between a shard's replicas through ZooKeeper. Every table is
//     created ON CLUSTER (clusterDDL rewrites the single-node DDL).
//   - DB holds Distributed tables of the same names over them (the views,
//     the landing tables, the marts, the run log), so that every query of
//     the API, the reports and the exports reads the whole region unchanged.
//   - Each core's namespace (model.NamespaceBits) lives on exactly one
//     shard, namespace % shards: the relay writes a core's batches straight
//     to its shard, through whichever replica answers, and the marts are
//     built on each shard from that shard's rows alone (Shards; the ETL
//     runs once per shard).
//
// The Distributed tables carry no sharding key: nothing inserts through
// them, so no row can land on a shard other than its namespace's.
type Cluster struct {
	Name     string // the cluster of <remote_servers>
	Database string // the Distributed tables
	Local    string // the replicated tables of each shard

	read   driver.Conn
	shards []*Warehouse
	opt    *ch.Options // as parsed from the DSN: for a connection to one server

	mu       sync.Mutex
	known    map[int64]bool // namespaces seen landed: what a lost shard takes with it
	dead     []int          // shards no replica answered at probedAt (0-based)
	probedAt time.Time
}

var (
	_ warehouse.Warehouse = (*Cluster)(nil)
	_ warehouse.Sharded   = (*Cluster)(nil)
)

// IsClusterDSN says whether a DSN names a cluster (?cluster=NAME).
func IsClusterDSN(dsn string) bool {
	u, err := url.Parse(dsn)
	return err == nil && u.Query().Get("cluster") != ""
}

// OpenAny opens a single server or, for a DSN with ?cluster=, a cluster.
func OpenAny(ctx context.Context, dsn string) (warehouse.Warehouse, error) {
	if IsClusterDSN(dsn) {
		return OpenCluster(ctx, dsn)
	}
	return Open(ctx, dsn)
}

// OpenCluster connects to the cluster of
// clickhouse://H1:P1,H2:P2,…/DB?cluster=NAME: the servers listed are where
// it learns the cluster's shards and replicas (system.clusters) and what
// queries go to; it creates both databases and the schema ON CLUSTER.
func OpenCluster(ctx context.Context, dsn string) (*Cluster, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("warehouse %q: %w", dsn, err)
	}
	name := u.Query().Get("cluster")
	if !regexp.MustCompile(`^\w+$`).MatchString(name) {
		return nil, fmt.Errorf("warehouse %q: cluster=%q is not a cluster name", redact(u), name)
	}
	opt, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, Database: opt.Auth.Database, opt: opt}
	c.Local = c.Database + "_local"
	boot := *opt
	boot.Auth.Database = "default"
	conn, err := ch.Open(&boot)
	if err != nil {
		return nil, err
	}
	shards, err := clusterShards(ctx, conn, name)
	if err == nil {
		for _, db := range []string{c.Local, c.Database} {
			if err = conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(db)+" ON CLUSTER "+name); err != nil {
				break
			}
		}
	}
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("clickhouse cluster %s at %s: %w", name, strings.Join(opt.Addr, ","), err)
	}
	read := *opt
	if c.read, err = ch.Open(&read); err != nil {
		return nil, err
	}
	ddl := &clusterDDL{cluster: name, db: c.Database, local: c.Local}
	for _, replicas := range shards {
		ddl.servers = append(ddl.servers, replicas...)
	}
	for _, replicas := range shards {
		so := *opt
		so.Addr = replicas
		so.ConnOpenStrategy = ch.ConnOpenInOrder // the replica reads prefer, while it lives
		so.Auth.Database = c.Local
		sc, err := ch.Open(&so)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.shards = append(c.shards, &Warehouse{Addr: strings.Join(replicas, ","), Database: c.Local, conn: sc, cl: ddl})
	}
	// The schema is the cluster's: one shard creates it everywhere.
	if err := c.shards[0].init(ctx); err != nil {
		c.Close()
		return nil, err
	}
	for _, s := range c.shards[1:] {
		s.id = c.shards[0].id
	}
	if err := c.fillLatest(ctx); err != nil {
		c.Close()
		return nil, err
	}
	c.known = map[int64]bool{}
	if _, err := c.HighWaters(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) saw(nss ...int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ns := range nss {
		c.known[ns] = true
	}
}

// down probes every shard and lists those that no replica answers (0-based).
func (c *Cluster) down(ctx context.Context) []int {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	dead := make([]bool, len(c.shards))
	var g errgroup.Group
	for i, s := range c.shards {
		g.Go(func() error {
			dead[i] = s.conn.Ping(ctx) != nil
			return nil
		})
	}
	g.Wait()
	var out []int
	for i, d := range dead {
		if d {
			out = append(out, i)
		}
	}
	return out
}

// probeEvery bounds how often reads probe the shards: a dead host on a real
// network costs a dial timeout, so one probe serves every read for a while.
const probeEvery = time.Second

// deadShards is the last probe's answer, probed again when it is older than
// probeEvery.
func (c *Cluster) deadShards(ctx context.Context) []int {
	c.mu.Lock()
	if time.Since(c.probedAt) < probeEvery {
		dead := c.dead
		c.mu.Unlock()
		return dead
	}
	c.mu.Unlock()
	dead := c.down(ctx)
	c.mu.Lock()
	c.dead, c.probedAt = dead, time.Now()
	c.mu.Unlock()
	return dead
}

// unavailable says what a read may do while shards are dead: nil when none
// is; else the error naming them and, when the read says it needs only
// namespaces none of which is on them (warehouse.WithNamespaces), that it
// may run without them.
func (c *Cluster) unavailable(ctx context.Context, dead []int, err error) (skip bool, _ *warehouse.UnavailableError) {
	if len(dead) == 0 {
		return false, nil
	}
	ue := &warehouse.UnavailableError{Err: err}
	isDead := map[int]bool{}
	for _, i := range dead {
		isDead[i] = true
		ue.Shards = append(ue.Shards, i+1)
	}
	if ue.Err == nil {
		ue.Err = fmt.Errorf("no replica of shards %v answers", ue.Shards)
	}
	c.mu.Lock()
	for ns := range c.known {
		if isDead[c.ShardOf(ns)] {
			ue.Namespaces = append(ue.Namespaces, ns)
		}
	}
	c.mu.Unlock()
	slices.Sort(ue.Namespaces)
	needed := warehouse.NamespacesFrom(ctx)
	if needed == nil {
		return false, ue
	}
	for _, ns := range needed {
		if isDead[c.ShardOf(ns)] {
			return false, ue
		}
	}
	return true, ue
}

func redact(u *url.URL) string {
	v := *u
	v.User = nil
	return v.String()
}

// clusterShards lists each shard's replicas, HOST:PORT, in shard order.
func clusterShards(ctx context.Context, conn driver.Conn, name string) ([][]string, error) {
	rows, err := conn.Query(ctx, "SELECT shard_num, host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var shards [][]string
	last := uint32(0)
	for rows.Next() {
		var shard uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &host, &port); err != nil {
			return nil, err
		}
		if shard != last {
			shards, last = append(shards, nil), shard
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], fmt.Sprintf("%s:%d", host, port))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("no cluster %q in the servers' <remote_servers>", name)
	}
	return shards, nil
}

// fillLatest fills, on each shard, a latest_ table created for raw rows
// the shard already holds (a column the model gained drops it).
func (c *Cluster) fillLatest(ctx context.Context) error {
	var g errgroup.Group
	for _, s := range c.shards {
		g.Go(func() error {
			for _, t := range warehouse.Tables() {
				if err := s.conn.Exec(ctx, fillLatest(t)); err != nil {
					return fmt.Errorf("shard %s: %w", s.Addr, err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func (c *Cluster) Engine() string { return "clickhouse" }

// SQL implements warehouse.Warehouse: a cluster speaks ClickHouse's SQL.
func (c *Cluster) SQL() policy.SQL { return SQL }
func (c *Cluster) ID() string      { return c.shards[0].id }

// Shards implements warehouse.Sharded: one warehouse per shard, on its own
// replicated tables, for the ETL to build each shard's marts.
func (c *Cluster) Shards() []warehouse.Warehouse {
	out := make([]warehouse.Warehouse, len(c.shards))
	for i, s := range c.shards {
		out[i] = s
	}
	return out
}

// ShardOf is the shard (0-based) that holds namespace ns.
func (c *Cluster) ShardOf(ns int64) int { return int(ns % int64(len(c.shards))) }

// Append implements warehouse.Warehouse: the batch goes whole to the shard
// of its namespace.
func (c *Cluster) Append(ctx context.Context, b *warehouse.Batch) error {
	ns := model.NamespaceOf(b.LastSeq)
	if model.NamespaceOf(b.FirstSeq) != ns && b.FirstSeq != 0 {
		return fmt.Errorf("warehouse: batch (%d, %d] spans namespaces", b.FirstSeq, b.LastSeq)
	}
	if b.Snapshot {
		ns = b.Namespace
	}
	if err := c.shards[c.ShardOf(ns)].Append(ctx, b); err != nil {
		return err
	}
	c.saw(ns)
	return nil
}

// HighWaters implements warehouse.Warehouse: every shard's.
func (c *Cluster) HighWaters(ctx context.Context) (map[int64]int64, error) {
	out := map[int64]int64{}
	for _, s := range c.shards {
		hws, err := s.HighWaters(ctx)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", s.Addr, err)
		}
		for ns, hw := range hws {
			out[ns] = hw
			c.saw(ns)
		}
	}
	return out, nil
}

// HighWaterOf asks only the shard of ns: a relay goes on while another
// shard is down.
func (c *Cluster) HighWaterOf(ctx context.Context, ns int64) (int64, error) {
	hws, err := c.shards[c.ShardOf(ns)].HighWaters(ctx)
	return hws[ns], err
}

// DeadLetters implements warehouse.Warehouse: each shard's, merged by seq
// (a shard reads its replays beside its dead letters; through the
// Distributed tables that would be a distributed IN, which 18.16 refuses).
func (c *Cluster) DeadLetters(ctx context.Context, limit int) ([]warehouse.DeadLetter, error) {
	var out []warehouse.DeadLetter
	for _, s := range c.shards {
		dls, err := s.DeadLetters(ctx, limit)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", s.Addr, err)
		}
		out = append(out, dls...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ResolveDeadLetters implements warehouse.Warehouse, on each seq's shard.
func (c *Cluster) ResolveDeadLetters(ctx context.Context, seqs []int64) error {
	byShard := map[int][]int64{}
	for _, s := range seqs {
		i := c.ShardOf(model.NamespaceOf(s))
		byShard[i] = append(byShard[i], s)
	}
	for i, ss := range byShard {
		if err := c.shards[i].ResolveDeadLetters(ctx, ss); err != nil {
			return err
		}
	}
	return nil
}

// Query implements warehouse.Warehouse: through the Distributed tables.
// While a whole shard is down (probed at most every probeEvery), a read
// returns a warehouse.UnavailableError naming it, never a partial answer;
// only a read that says it needs none of that shard's namespaces
// (warehouse.WithNamespaces) runs, with skip_unavailable_shards set for it
// alone. A read that fails on a shard found dead after it started gets the
// same error.
func (c *Cluster) Query(ctx context.Context, query string, args ...any) (array.RecordReader, error) {
	skip, ue := c.unavailable(ctx, c.deadShards(ctx), nil)
	if ue != nil && !skip {
		return nil, ue
	}
	if skip {
		ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"skip_unavailable_shards": 1}))
	}
	rr, err := (&Warehouse{conn: c.read}).Query(ctx, inOrder(query), args...)
	if err != nil {
		return nil, c.explain(ctx, err)
	}
	return &explainedReader{RecordReader: rr, c: c, ctx: ctx}, nil
}

// inOrder makes a read go to each shard's first live replica in the
// cluster's order: the replica that shard's writes go to as well (the driver
// dials a shard's replicas in order), so a read after a write sees it. With
// ClickHouse's default random choice, a count right after an insert could
// miss the part until the other replica fetched it (the contract caught 9
// of 12 events this way). The setting has to travel in the query: the
// 18.16 protocol carries only numeric settings, and a SETTINGS clause on a
// UNION ALL would reach its last SELECT alone, so the read is wrapped.
func inOrder(query string) string {
	q := strings.TrimRight(strings.TrimSpace(query), ";")
	head := strings.ToUpper(q[:min(len(q), 6)])
	if head != "SELECT" && !strings.HasPrefix(head, "WITH") {
		return query
	}
	return "SELECT * FROM (" + q + "\n) SETTINGS load_balancing = 'in_order'"
}

// explain turns the error of a read into a warehouse.UnavailableError when
// a shard is found dead now.
func (c *Cluster) explain(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	c.mu.Lock()
	c.probedAt = time.Time{} // probe now, not in a second
	c.mu.Unlock()
	if _, ue := c.unavailable(ctx, c.deadShards(ctx), err); ue != nil {
		return ue
	}
	return err
}

// explainedReader explains an error that arrives with the rows: a shard's
// exception can follow the blocks of the shards that answered.
type explainedReader struct {
	array.RecordReader
	c   *Cluster
	ctx context.Context
}

func (r *explainedReader) Err() error { return r.c.explain(r.ctx, r.RecordReader.Err()) }

// Exec implements warehouse.Warehouse: DDL goes ON CLUSTER; anything else
// runs on the first shard (the ETL writes each shard through Shards).
func (c *Cluster) Exec(ctx context.Context, query string, args ...any) error {
	return c.shards[0].Exec(ctx, query, args...)
}

// ExecAtomic implements warehouse.Warehouse.
func (c *Cluster) ExecAtomic(ctx context.Context, stmts ...string) error {
	return c.shards[0].ExecAtomic(ctx, stmts...)
}

// Reset implements warehouse.Warehouse: every table of both databases,
// cluster-wide, then the schema again.
func (c *Cluster) Reset(ctx context.Context) error {
	// Dropping both databases is two statements of the DDL queue; their
	// tables one by one would be a hundred.
	for _, q := range []string{
		"DROP DATABASE IF EXISTS " + quoteIdent(c.Database) + " ON CLUSTER " + c.Name,
		"DROP DATABASE IF EXISTS " + quoteIdent(c.Local) + " ON CLUSTER " + c.Name,
		"CREATE DATABASE IF NOT EXISTS " + quoteIdent(c.Local) + " ON CLUSTER " + c.Name,
		"CREATE DATABASE IF NOT EXISTS " + quoteIdent(c.Database) + " ON CLUSTER " + c.Name,
	} {
		if err := c.read.Exec(ctx, q); err != nil {
			return err
		}
	}
	if err := c.shards[0].init(ctx); err != nil {
		return err
	}
	for _, s := range c.shards[1:] {
		s.id = c.shards[0].id
	}
	return nil
}

// Replicas lists each shard's servers (HOST:PORT), in the cluster's order.
func (c *Cluster) Replicas() [][]string {
	out := make([][]string, len(c.shards))
	for i, s := range c.shards {
		out[i] = strings.Split(s.Addr, ",")
	}
	return out
}

// ResetNamespace implements warehouse.Warehouse on the one shard that holds
// the namespace, through whichever of its replicas answers; the other
// replicas take the mutations from ZooKeeper, and it waits for them too
// (up to replicaMutationWait each; one that is down does them when it is
// back). 18.16 crashes a replica whose table is dropped while it finishes a
// mutation (ReplicatedMergeTreeQueue::tryFinalizeMutations, seen when a
// Reset followed at once), so the call returns only when they are done.
func (c *Cluster) ResetNamespace(ctx context.Context, ns int64) error {
	i := c.ShardOf(ns)
	if err := c.shards[i].ResetNamespace(ctx, ns); err != nil {
		return err
	}
	for _, addr := range c.Replicas()[i] {
		o := *c.opt
		o.Addr, o.Auth.Database = []string{addr}, c.Local
		conn, err := ch.Open(&o)
		if err != nil {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, replicaMutationWait)
		err = mutationsDone(wctx, conn)
		cancel()
		conn.Close()
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// replicaMutationWait bounds the wait for another replica's mutations.
const replicaMutationWait = 2 * time.Minute

// Close implements warehouse.Warehouse.
func (c *Cluster) Close() error {
	var errs []error
	if c.read != nil {
		errs = append(errs, c.read.Close())
	}
	for _, s := range c.shards {
		errs = append(errs, s.conn.Close())
	}
	return errors.Join(errs...)
}

// clusterDDL turns the single-node DDL of this package and of the ETL into
// the cluster's: MergeTree tables become their Replicated twins, created ON
// CLUSTER in the local database, with a Distributed table of the same name
// in the read database; views are created ON CLUSTER with one too. Staging
// tables of the ETL exist on every server but stay each server's own, and
// its in-memory snapshots stay on the server that took them. Everything
// else (inserts, REPLACE PARTITION, TRUNCATE of a staging table) runs where
// it was sent.
type clusterDDL struct {
	cluster, db, local string
	servers            []string // every server of the cluster, host:port
}

var (
	reCreateTable = regexp.MustCompile(`(?s)^CREATE TABLE (?:IF NOT EXISTS )?` + "`?" + `(\w+)` + "`?" + ` \((.*)\) ENGINE = (\w*MergeTree)\(([^)]*)\)(.*)$`)
	reCreateView  = regexp.MustCompile(`(?s)^CREATE VIEW (?:IF NOT EXISTS )?` + "`?" + `(\w+)` + "`?" + ` AS (.*)$`)
	reDrop        = regexp.MustCompile(`^DROP (?:TABLE|VIEW) IF EXISTS ` + "`?" + `(\w+)` + "`?" + `$`)
	reAlterColumn = regexp.MustCompile(`(?s)^ALTER TABLE ` + "`?" + `(\w+)` + "`?" + ` ((?:ADD|DROP) COLUMN .*)$`)
)

// localOnly are tables each server keeps to itself.
func localOnly(name string) bool {
	return strings.HasPrefix(name, "etl_snap_")
}

// distributed says whether a table is read across shards: the relay and
// the ETL read raw_ and latest_ on their own shard only.
func distributed(name string) bool {
	return !strings.HasPrefix(name, "raw_") && !strings.HasPrefix(name, "latest_") && !strings.HasSuffix(name, "_stage") && !localOnly(name)
}

func (d *clusterDDL) rewrite(q string) []string {
	q = strings.TrimSpace(q)
	on := " ON CLUSTER " + d.cluster
	if m := reCreateTable.FindStringSubmatch(q); m != nil {
		name, cols, engine, args, rest := m[1], m[2], m[3], m[4], m[5]
		if strings.HasSuffix(name, "_stage") {
			return []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s (%s) ENGINE = %s(%s)%s", d.local, name, on, cols, engine, args, rest)}
		}
		rargs := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s', '{replica}'", d.local, name)
		if strings.TrimSpace(args) != "" {
			rargs += ", " + args
		}
		out := []string{fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s (%s) ENGINE = Replicated%s(%s)%s", d.local, name, on, cols, engine, rargs, rest)}
		if distributed(name) {
			out = append(out, d.distributedTable(name))
		}
		return out
	}
	if m := reCreateView.FindStringSubmatch(q); m != nil {
		return []string{fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s.%s%s AS %s", d.local, m[1], on, m[2]), d.distributedTable(m[1])}
	}
	if m := reDrop.FindStringSubmatch(q); m != nil {
		if localOnly(m[1]) {
			return []string{q}
		}
		return []string{
			fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", d.db, m[1], on),
			fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", d.local, m[1], on),
		}
	}
	if m := reAlterColumn.FindStringSubmatch(q); m != nil {
		out := []string{fmt.Sprintf("ALTER TABLE %s.%s%s %s", d.local, m[1], on, m[2])}
		if distributed(m[1]) { // a Distributed table's columns are fixed when it is made
			out = append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", d.db, m[1], on), d.distributedTable(m[1]))
		}
		return out
	}
	return []string{q}
}

func (d *clusterDDL) distributedTable(name string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s ENGINE = Distributed(%s, %s, %s)",
		d.db, name, d.cluster, d.local, name, d.cluster, d.local, name)
}

var (
	reCreateIfNotExists = regexp.MustCompile(`^CREATE (?:TABLE|VIEW) IF NOT EXISTS ([\w.]+) ON CLUSTER`)
	reDropIfExists      = regexp.MustCompile(`^DROP (?:TABLE|VIEW) IF EXISTS (\w+)\.(\w+) ON CLUSTER`)
)

// heldNowhere says whether every server of the cluster answers that it
// has no table db.name: a DROP … IF EXISTS of it would go through the DDL
// queue (about 120 ms, waiting for every server) to do nothing. A fresh
// warehouse's view rebuilds drop 92 such tables. Any doubt, a server that
// does not answer included, says no, and the DROP is queued.
func (d *clusterDDL) heldNowhere(ctx context.Context, conn driver.Conn, db, name string) bool {
	if len(d.servers) == 0 {
		return false
	}
	// remote() over every server as its own shard fails when one does not
	// answer (skip_unavailable_shards is off).
	var held uint64
	err := conn.QueryRow(ctx, "SELECT count() FROM remote('"+strings.Join(d.servers, ",")+
		"', system.tables) WHERE database = ? AND name = ?", db, name).Scan(&held)
	return err == nil && held == 0
}

// ddlTimeout is how long a statement ON CLUSTER waits for the servers that
// answer; one that is down executes it from the queue when it is back.
const ddlTimeout = 60

func (d *clusterDDL) exec(ctx context.Context, conn driver.Conn, query string, args ...any) error {
	stmts := d.rewrite(query)
	if len(stmts) == 1 && stmts[0] == strings.TrimSpace(query) {
		return conn.Exec(ctx, query, args...)
	}
	ctx = ch.Context(ctx, ch.WithSettings(ch.Settings{"distributed_ddl_task_timeout": ddlTimeout}))
	for _, s := range stmts {
		// A table that exists needs no trip through the DDL queue, which
		// waits for every server: a service restarted while a replica is
		// down must not wait for it to make what it already has.
		if m := reCreateIfNotExists.FindStringSubmatch(s); m != nil {
			var exists uint8
			if err := conn.QueryRow(ctx, "EXISTS TABLE "+m[1]).Scan(&exists); err == nil && exists == 1 {
				continue
			}
		}
		if m := reDropIfExists.FindStringSubmatch(s); m != nil && d.heldNowhere(ctx, conn, m[1], m[2]) {
			continue
		}
		if err := conn.Exec(ctx, s, args...); err != nil && !queuedForDownHosts(err) {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// queuedForDownHosts: the statement ran on every server that answers, and
// the ones that are down will run it from the queue when they are back.
func queuedForDownHosts(err error) bool {
	var ex *ch.Exception
	return errors.As(err, &ex) && ex.Code == 159 && strings.Contains(ex.Message, "(0 of them are currently active)")
}

// catchUpWait bounds how long the marts of a shard wait for the replica
// they are built on to hold what the shard holds; the next scheduled run
// tries again.
const catchUpWait = 15 * time.Second

// CaughtUp waits until the replica this shard's connections reach has
// pulled the shard's whole replication log and fetched every part it lists.
// A replica back from an outage fetches what it missed in the background,
// and a replica whose partner died holds only the parts it had fetched
// (replication is asynchronous: a part acknowledged by the dead one waits
// there). Marts built on it meanwhile would replace good days with partial
// ones, so the ETL waits for this before building a shard (etl.runShards)
// and, if the replica stays behind, builds nothing on that shard: its marts
// keep their last good rows until the parts are there, the other shards go
// on, and the run log says why.
func (w *Warehouse) CaughtUp(ctx context.Context) error {
	if w.cl == nil {
		return nil
	}
	deadline := time.Now().Add(catchUpWait)
	for {
		var behind uint64
		err := w.conn.QueryRow(ctx, `SELECT count() FROM system.replicas WHERE database = currentDatabase()
AND (is_readonly OR inserts_in_queue > 0 OR (log_max_index > 0 AND log_pointer <= log_max_index))`).Scan(&behind)
		if err == nil && behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%d tables are still fetching", behind)
			}
			return fmt.Errorf("replica of shard %s is behind its shard after %s: %w", w.Addr, catchUpWait, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
