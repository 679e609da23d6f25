package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"hash/fnv"
	"time"
)

// leaderPoll is how often a waiting instance asks for the lock, and how
// often the leader checks that its session (and so its lock) still lives.
const leaderPoll = time.Second

// Lead runs duties while this process is the one instance of the service
// that holds the duty called name, until ctx ends. Duties are what must run
// once per core however many instances serve it: the relay, the ETL schedule
// and the report schedule.
//
// On PostgreSQL the holder is elected by a session advisory lock on a
// connection of its own. The server releases it the moment that session
// ends, so when the leader dies (kill -9, a lost machine) another instance
// takes over at its next poll, within about leaderPoll. A leader whose
// session is lost (the network, a server restart) stops its duties before it
// could overlap with a new leader, then waits to lead again. On SQLite only
// one process can open the core, so it leads at once.
//
// duties gets a context that ends when leadership does; Lead waits for it
// to return before trying again. onChange reports gaining and losing.
func (db *DB) Lead(ctx context.Context, name string, duties func(ctx context.Context), onChange func(leading bool)) {
	if onChange == nil {
		onChange = func(bool) {}
	}
	if !db.eng.SharedByProcesses() {
		onChange(true)
		duties(ctx)
		onChange(false)
		return
	}
	h := fnv.New64a()
	h.Write([]byte("zhiliao:" + name))
	key := int64(h.Sum64())
	log := db.Logger.With("duty", name)
	for ctx.Err() == nil {
		conn, held := db.tryLead(ctx, key)
		if !held {
			if conn != nil {
				conn.Close()
			}
			sleep(ctx, leaderPoll)
			continue
		}
		log.Info("本实例负责后台任务 leading: relay and schedules run here")
		onChange(true)
		dctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); duties(dctx) }()
		for lost := false; !lost; {
			select {
			case <-ctx.Done():
				lost = true
			case <-done:
				lost = true
			case <-time.After(leaderPoll):
				pctx, cancel := context.WithTimeout(ctx, leaderPoll)
				if err := conn.PingContext(pctx); err != nil && ctx.Err() == nil {
					log.Warn("领导会话丢失，停止后台任务 leader session lost: stopping duties", "err", err)
					lost = true
				}
				cancel()
			}
		}
		stop()
		<-done
		onChange(false)
		// The session is closed, not returned to the pool, so the lock goes
		// with it whatever state it is in.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		conn.Close()
	}
}

// tryLead asks for the advisory lock on a connection of its own.
func (db *DB) tryLead(ctx context.Context, key int64) (*sql.Conn, bool) {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return nil, false
	}
	ok, err := db.eng.TryLead(ctx, conn, key)
	return conn, err == nil && ok
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}
