package store

import (
	"context"
	"time"

	"github.com/zhiliao/zhiliao/model"
)

// closeOutBatch bounds one close-out transaction: a pass after a week down
// closes thousands of rows, and a transaction of that size would hold the
// single writer (SQLite) or many row locks (PostgreSQL) for seconds.
const closeOutBatch = 200

// CloseOut applies the end-of-day rules of DESIGN §14 to everything due at
// the store's clock, for one institution and department (0: all):
//   - a booking still booked when its slot ended plus the project's grace
//     becomes a no-show, counted toward the blacklist, its place released;
//   - a queue ticket of an earlier day never started closes (left); a
//     checked-in appointment behind it closes as cancelled, with the reason;
//   - a session still in progress after its day is flagged for the
//     department, never completed by the rule.
//
// The rules read only the clock, so a pass after days down closes every
// missed day at once; the leader runs one at start-up and every minute.
func (db *DB) CloseOut(ctx context.Context, institutionID, deptID int64) (model.CloseOutResult, error) {
	var res model.CloseOutResult
	now := db.nowFor(ctx)
	scope := "(? = 0 OR institution_id = ?) AND (? = 0 OR dept_id = ?)"
	// scope comes first in every query, then the query's own arguments.
	args := func(more ...any) []any {
		return append([]any{institutionID, institutionID, deptID, deptID}, more...)
	}
	// Bookings whose slot has started; whether the grace after its end has
	// passed is the project's rule, checked per row in the transaction.
	appts, err := db.openIDs(ctx, "appointment", scope+" AND status = 'booked' AND planned_at <= ? ORDER BY planned_at, id",
		args(formatTime(now))...)
	if err != nil {
		return res, err
	}
	if err := db.inBatches(ctx, appts, func(tx *Tx, id int64) error {
		a, err := get[model.Appointment](tx, id)
		if err != nil || a.Status != model.ApptBooked {
			return err
		}
		s, err := get[model.Slot](tx, a.SlotID)
		if err != nil {
			return err
		}
		p, err := get[model.Project](tx, a.ProjectID)
		if err != nil {
			return err
		}
		if tx.now.Before(s.EndAt.Add(p.NoShowGrace())) {
			return nil
		}
		res.NoShows++
		return tx.noShow(a, "日终关闭：预约时段结束未签到 (close-out)")
	}); err != nil {
		return res, err
	}
	today := model.DayOf(now)
	tickets, err := db.openIDs(ctx, "queue_ticket", scope+" AND status IN ('waiting', 'called') AND day < ? ORDER BY day, id", args(today)...)
	if err != nil {
		return res, err
	}
	if err := db.inBatches(ctx, tickets, func(tx *Tx, id int64) error {
		tk, err := get[model.QueueTicket](tx, id)
		if err != nil || (tk.Status != model.TicketWaiting && tk.Status != model.TicketCalled) {
			return err
		}
		res.TicketsClosed++
		const reason = "日终关闭：签到后未治疗 (close-out)"
		if tk.AppointmentID != nil {
			a, err := get[model.Appointment](tx, *tk.AppointmentID)
			if err != nil {
				return err
			}
			if a.Status == model.ApptCheckedIn { // cancelling it leaves the queue too
				res.CheckinsClosed++
				return tx.cancelAppointment(a, reason)
			}
		}
		return tx.transition(tk, model.TicketLeft, reason)
	}); err != nil {
		return res, err
	}
	// A session started before today's local midnight is overnight.
	midnight, _ := time.ParseInLocation("2006-01-02", today, model.Local)
	sessions, err := db.openIDs(ctx, "treatment_session", scope+" AND status = 'in_progress' AND started_at < ? AND flagged_at IS NULL ORDER BY started_at, id",
		args(formatTime(midnight))...)
	if err != nil {
		return res, err
	}
	err = db.inBatches(ctx, sessions, func(tx *Tx, id int64) error {
		s, err := get[model.Session](tx, id)
		if err != nil || s.Status != model.SessionInProgress || s.FlaggedAt != nil {
			return err
		}
		t := tx.now
		s.FlaggedAt, s.FlagReason = &t, "治疗跨夜未结束，请科室完成或中止 (in progress overnight)"
		res.SessionsFlagged++
		return tx.update(s)
	})
	return res, err
}

// openIDs lists the ids of table's rows matching where, outside any write.
func (db *DB) openIDs(ctx context.Context, table, where string, args ...any) ([]int64, error) {
	return db.int64s(ctx, "SELECT id FROM "+table+" WHERE "+where, args...)
}

// int64s runs a query of one integer column on the reader.
func (db *DB) int64s(ctx context.Context, query string, args ...any) ([]int64, error) {
	rows, err := db.q(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// inBatches runs fn for every id, closeOutBatch ids to a write transaction.
// fn re-reads its row: another writer may have moved it since the ids were read.
func (db *DB) inBatches(ctx context.Context, ids []int64, fn func(tx *Tx, id int64) error) error {
	for len(ids) > 0 {
		n := min(len(ids), closeOutBatch)
		batch := ids[:n]
		ids = ids[n:]
		if err := db.write(ctx, func(tx *Tx) error {
			for _, id := range batch {
				if err := fn(tx, id); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}
