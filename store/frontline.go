package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// today is the service's day in China time, from the injected clock.
func (db *DB) today() string { return db.Now().In(model.Local).Format("2006-01-02") }

// PatientTickets lists the link holder's places in today's queues: the
// number, how many wait before it, and the number each department called
// last. The patient page polls it, so it reads three small indexed sets.
func (db *DB) PatientTickets(ctx context.Context) ([]model.PatientTicket, error) {
	a := model.ActorFrom(ctx)
	if a.Role != model.RolePatient {
		return nil, model.Errorf(model.EFORBIDDEN, "仅限患者本人 (patient link only)")
	}
	day := db.today()
	mine, err := listRows[model.QueueTicket](ctx, db.q(ctx), "patient_id = ? AND day = ? ORDER BY number", a.PatientID, day)
	if err != nil || len(mine) == 0 {
		return []model.PatientTicket{}, err
	}
	out := make([]model.PatientTicket, len(mine))
	names, err := db.names(ctx, "department", deptIDs(mine))
	if err != nil {
		return nil, err
	}
	for i, t := range mine {
		out[i] = model.PatientTicket{QueueTicket: t, DeptName: names[t.DeptID]}
		q := db.q(ctx)
		if t.Status == model.TicketWaiting {
			if err := q.QueryRowContext(ctx, `SELECT count(*) FROM queue_ticket WHERE institution_id = ? AND dept_id = ? AND day = ? AND status = ? AND number < ?`,
				t.InstitutionID, t.DeptID, day, model.TicketWaiting, t.Number).Scan(&out[i].Ahead); err != nil {
				return nil, err
			}
		}
		// The last call: the called ticket with the latest call time.
		var calling *int64
		if err := q.QueryRowContext(ctx, `SELECT max(number) FROM queue_ticket WHERE institution_id = ? AND dept_id = ? AND day = ? AND called_at =
 (SELECT max(called_at) FROM queue_ticket WHERE institution_id = ? AND dept_id = ? AND day = ?)`,
			t.InstitutionID, t.DeptID, day, t.InstitutionID, t.DeptID, day).Scan(&calling); err != nil {
			return nil, err
		}
		if calling != nil {
			out[i].Calling = *calling
		}
	}
	return out, nil
}

func deptIDs(ts []*model.QueueTicket) []int64 {
	ids := make([]int64, len(ts))
	for i, t := range ts {
		ids[i] = t.DeptID
	}
	return ids
}

// names reads the name column of the rows of table (department, project)
// with the given ids, in one query.
func (db *DB) names(ctx context.Context, table string, ids []int64) (map[int64]string, error) {
	return db.column(ctx, table, "name", ids)
}

// column reads one text column of the rows of table with the given ids.
func (db *DB) column(ctx context.Context, table, col string, ids []int64) (map[int64]string, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return map[int64]string{}, nil
	}
	return db.idText(ctx, fmt.Sprintf("SELECT id, %s FROM %s WHERE id IN %s", col, table, inList(ids)), anys(ids)...)
}

// idText runs a query of (id, text) rows into a map.
func (db *DB) idText(ctx context.Context, query string, args ...any) (map[int64]string, error) {
	rows, err := db.q(ctx).QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var text string
		if err := rows.Scan(&id, &text); err != nil {
			return nil, err
		}
		out[id] = text
	}
	return out, rows.Err()
}

// QueueBoard is a department's queue today as the waiting-room display
// shows it: numbers and masked names, in scope (a department-bound account
// sees only its own department's board).
func (db *DB) QueueBoard(ctx context.Context, deptID int64) (*model.QueueBoard, error) {
	if a := model.ActorFrom(ctx); deptID == 0 && policy.DeptBound(a) {
		deptID = a.DeptID
	}
	if deptID <= 0 {
		return nil, model.Invalid("dept", "请选择科室 (dept is required)")
	}
	day := db.today()
	entries, err := db.Queue(ctx, deptID, day)
	if err != nil {
		return nil, err
	}
	names, err := db.names(ctx, "department", []int64{deptID})
	if err != nil {
		return nil, err
	}
	if names[deptID] == "" {
		return nil, model.Errorf(model.ENOTFOUND, "科室 %d 不存在 (no such department)", deptID)
	}
	b := &model.QueueBoard{DeptID: deptID, DeptName: names[deptID], Day: day, Calling: []model.BoardEntry{}, Waiting: []model.BoardEntry{}}
	rooms, err := db.callRooms(ctx, entries)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		be := model.BoardEntry{Number: e.Number, Name: model.MaskName(e.PatientName), Status: e.Status, WalkIn: e.WalkIn, CalledAt: e.CalledAt}
		if e.Status == model.TicketCalled || e.Status == model.TicketInTreatment {
			be.Room = rooms[e.ID]
		}
		switch e.Status {
		case model.TicketWaiting:
			b.Waiting = append(b.Waiting, be)
		case model.TicketCalled, model.TicketInTreatment:
			b.Calling = append(b.Calling, be)
		case model.TicketDone:
			b.Done++
		}
	}
	// The latest call first: the one the room is looking for.
	slices.SortStableFunc(b.Calling, func(x, y model.BoardEntry) int {
		switch {
		case x.CalledAt == nil || y.CalledAt == nil:
			return cmp.Compare(boolInt(x.CalledAt == nil), boolInt(y.CalledAt == nil))
		case !x.CalledAt.Equal(*y.CalledAt):
			return y.CalledAt.Compare(*x.CalledAt)
		}
		return cmp.Compare(y.Number, x.Number)
	})
	return b, nil
}

// callRooms names the room of each called or treated ticket, by ticket id:
// the session's room once the treatment started, else the booked slot's.
func (db *DB) callRooms(ctx context.Context, entries []model.QueueEntry) (map[int64]string, error) {
	var ids []int64
	for _, e := range entries {
		if e.Status == model.TicketCalled || e.Status == model.TicketInTreatment {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return map[int64]string{}, nil
	}
	booked, err := db.idText(ctx, `SELECT t.id, r.name FROM queue_ticket t JOIN appointment a ON a.id = t.appointment_id
JOIN slot s ON s.id = a.slot_id JOIN room r ON r.id = s.room_id WHERE t.id IN `+inList(ids), anys(ids)...)
	if err != nil {
		return nil, err
	}
	treating, err := db.idText(ctx, `SELECT s.ticket_id, r.name FROM treatment_session s JOIN room r ON r.id = s.room_id
WHERE s.status = 'in_progress' AND s.ticket_id IN `+inList(ids), anys(ids)...)
	for id, room := range treating {
		booked[id] = room
	}
	return booked, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
