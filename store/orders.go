package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/zhiliao/zhiliao/model"
)

var _ model.OrderService = (*DB)(nil)

// ReceiveOrder applies one HIS message about an order. A message already
// applied (same order number and message id) is a replay: it changes nothing
// and returns the order as it is.
func (db *DB) ReceiveOrder(ctx context.Context, m model.OrderMessage) (*model.Order, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var out *model.Order
	err := db.write(ctx, func(tx *Tx) error {
		res, err := tx.exec(`INSERT INTO his_message (institution_id, message_id, order_no, action, received_at)
VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, m.InstitutionID, m.MessageID, m.OrderNo, m.Action, formatTime(tx.now))
		if err != nil {
			return err
		}
		existing, err := findRow[model.Order](tx.ctx, tx, "institution_id = ? AND order_no = ?", m.InstitutionID, m.OrderNo)
		if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if existing == nil {
				return model.Conflict("his.replay", "重复的 HIS 消息 %s (replayed message)", m.MessageID)
			}
			out = existing // replay: idempotent
			return nil
		}
		out, err = tx.applyOrderMessage(existing, m)
		return err
	})
	return out, err
}

func (tx *Tx) applyOrderMessage(o *model.Order, m model.OrderMessage) (*model.Order, error) {
	switch m.Action {
	case model.HISNew:
		if o != nil {
			return nil, model.Conflict("order.duplicate", "医嘱号 %s 已存在 (order exists; send a change)", m.OrderNo)
		}
		return tx.newOrder(m)
	case model.HISChange:
		if o == nil {
			return nil, model.NotFound("医嘱", m.OrderNo)
		}
		if o.ApplicationID != nil {
			return nil, model.Conflict("order.applied", "医嘱已纳入治疗申请，不能修改 (order already in an application)")
		}
		if o.Status != model.OrderUnpaid {
			return nil, model.Conflict("order.not_unpaid", "只能修改未缴费医嘱 (only unpaid orders change)")
		}
		p, err := tx.projectByCode(o.InstitutionID, m.ProjectCode)
		if err != nil {
			return nil, err
		}
		o.ProjectID, o.ProjectCode, o.ProjectName, o.DeptID = p.ID, p.Code, p.Name, p.DeptID
		o.Quantity, o.UnitPriceFen, o.AmountFen = m.Quantity, p.UnitPriceFen, m.Quantity*p.UnitPriceFen
		o.VisitType, o.DiagnosisCode, o.DiagnosisName = m.VisitType, m.DiagnosisCode, m.DiagnosisName
		o.HISMessageID = m.MessageID
		if err := tx.update(o); err != nil {
			return nil, err
		}
		if m.Paid {
			return o, tx.pay(o, m.MessageID)
		}
		return o, nil
	}
	if o == nil {
		return nil, model.NotFound("医嘱", m.OrderNo)
	}
	o.HISMessageID = m.MessageID
	switch m.Action {
	case model.HISPay:
		return o, tx.pay(o, m.MessageID)
	case model.HISCancel:
		if o.Status == model.OrderPaid {
			return nil, model.Conflict("order.paid_cannot_cancel", "已缴费医嘱须先退费再撤销 (refund before cancelling)")
		}
		return o, tx.transition(o, model.OrderCancelled, "his:"+m.MessageID)
	default: // refund
		return o, tx.refund(o, m.RefundFen, "his:"+m.MessageID)
	}
}

func (tx *Tx) projectByCode(institutionID int64, code string) (*model.Project, error) {
	p, err := findRow[model.Project](tx.ctx, tx, "institution_id = ? AND code = ?", institutionID, code)
	if model.ErrorCode(err) == model.ENOTFOUND || (err == nil && !p.Active) {
		return nil, model.Invalid("project_code", "未知或已停用的治疗项目编码 %q (unknown project code)", code)
	}
	return p, err
}

func (tx *Tx) newOrder(m model.OrderMessage) (*model.Order, error) {
	p, err := tx.projectByCode(m.InstitutionID, m.ProjectCode)
	if err != nil {
		return nil, err
	}
	pat, err := findRow[model.Patient](tx.ctx, tx, "institution_id = ? AND mrn = ?", m.InstitutionID, m.PatientMRN)
	if model.ErrorCode(err) == model.ENOTFOUND {
		if m.PatientName == "" {
			return nil, model.Invalid("patient_mrn", "未知患者 %q，且消息未带患者信息 (unknown patient)", m.PatientMRN)
		}
		pat = &model.Patient{MRN: m.PatientMRN, Name: m.PatientName, Gender: m.Gender, BirthDate: m.BirthDate, Phone: m.Phone, IDNumber: m.IDNumber}
		pat.InstitutionID = m.InstitutionID
		if pat.Gender == "" {
			pat.Gender = "U"
		}
		if err := tx.insert(pat); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	o := &model.Order{
		OrderNo: m.OrderNo, PatientID: pat.ID, DeptID: p.DeptID, ProjectID: p.ID, ProjectCode: p.Code, ProjectName: p.Name,
		Quantity: m.Quantity, UnitPriceFen: p.UnitPriceFen, AmountFen: m.Quantity * p.UnitPriceFen,
		VisitType: m.VisitType, DiagnosisCode: m.DiagnosisCode, DiagnosisName: m.DiagnosisName,
		OrderedBy: m.OrderedBy, OrderedAt: m.OrderedAt.UTC(), HISMessageID: m.MessageID,
	}
	o.InstitutionID = m.InstitutionID
	if err := tx.insert(o); err != nil {
		return nil, err
	}
	if m.Paid {
		return o, tx.pay(o, m.MessageID)
	}
	return o, nil
}

func (tx *Tx) pay(o *model.Order, reason string) error {
	t := tx.now
	o.PaidAt = &t
	return tx.transition(o, model.OrderPaid, "his:"+reason)
}

// refund marks a paid order refunded. amount 0 refunds the unused sessions.
func (tx *Tx) refund(o *model.Order, amount int64, reason string) error {
	if amount == 0 {
		amount = (o.Quantity - o.UsedQuantity) * o.UnitPriceFen
	}
	if amount > o.AmountFen {
		return model.Invalid("refund_fen", "退费金额超过医嘱金额 (refund exceeds amount)")
	}
	t := tx.now
	o.RefundFen, o.RefundedAt = amount, &t
	return tx.transition(o, model.OrderRefunded, reason)
}

// Order returns an order by id.
func (db *DB) Order(ctx context.Context, id int64) (*model.Order, error) {
	return getRow[model.Order](ctx, db.q(ctx), id)
}

// OrderPaymentStatus is the core's own view of an order's payment status; the
// HIS simulator answers from it.
func (db *DB) OrderPaymentStatus(ctx context.Context, institutionID int64, orderNo string) (string, error) {
	var st string
	err := db.q(ctx).QueryRowContext(ctx, "SELECT status FROM his_order WHERE institution_id = ? AND order_no = ?", institutionID, orderNo).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "", model.NotFound("医嘱", orderNo)
	}
	if st == model.OrderCancelled {
		st = model.OrderUnpaid
	}
	return st, err
}
