// Package his adapts the hospital information system (HIS): what its HL7 v2
// order and payment messages mean for the core's order service, received
// over MLLP (interop/mllp, with ACK/NAK and dead letters for replay) and
// parsed by interop/hl7v2. The demo's stand-in for the HIS cashier is
// gen/cashier.
package his

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zhiliao/zhiliao/interop/hl7v2"
	"github.com/zhiliao/zhiliao/interop/mllp"
	"github.com/zhiliao/zhiliao/model"
)

// OrderFromHL7 maps an HL7 v2 order or payment message to the HIS message the
// core takes:
//
//	ORM^O01  ORC-1 NW/XO/CA (new, change, cancel), ORC-2 placer order number,
//	         ORC-7.1 quantity, ORC-9 transaction time, ORC-12.1 ordering doctor,
//	         OBR-4.1 project code, PID-3.1 MRN, PID-5 family^given, PID-7 birth,
//	         PID-8 sex, PID-13.1 phone, PID-19 ID number, PV1-2 O/I,
//	         DG1-3 code^name, ZPY-1 Y/N (paid: a site segment many Chinese HIS send)
//	DFT^P03  FT1-6 PY (payment) or CR (refund), FT1-11 amount in yuan,
//	         FT1-23.1 the order number
func OrderFromHL7(m *hl7v2.Message, institutionID int64) (model.OrderMessage, error) {
	o := model.OrderMessage{InstitutionID: institutionID, MessageID: m.ControlID()}
	switch m.Type() {
	case "ORM^O01":
		switch ctl := m.Field("ORC", 1); ctl {
		case "NW":
			o.Action = model.HISNew
		case "XO":
			o.Action = model.HISChange
		case "CA":
			o.Action = model.HISCancel
		default:
			return o, model.Invalid("ORC-1", "不支持的医嘱控制码 %q (NW, XO or CA)", ctl)
		}
		o.OrderNo = m.Comp("ORC", 2, 1)
		o.PatientMRN = m.Comp("PID", 3, 1)
		o.PatientName = m.Comp("PID", 5, 1) + m.Comp("PID", 5, 2)
		o.Gender = map[string]string{"M": "M", "F": "F"}[m.Field("PID", 8)]
		if o.Gender == "" {
			o.Gender = "U"
		}
		if b := m.Field("PID", 7); len(b) >= 8 {
			o.BirthDate = b[:4] + "-" + b[4:6] + "-" + b[6:8]
		}
		o.Phone, o.IDNumber = m.Comp("PID", 13, 1), m.Field("PID", 19)
		o.ProjectCode = m.Comp("OBR", 4, 1)
		if q := m.Comp("ORC", 7, 1); q != "" {
			n, err := strconv.ParseInt(q, 10, 64)
			if err != nil {
				return o, model.Invalid("ORC-7", "数量不是整数 %q", q)
			}
			o.Quantity = n
		}
		o.VisitType = map[string]string{"O": model.VisitOutpatient, "I": model.VisitInpatient}[m.Field("PV1", 2)]
		o.DiagnosisCode, o.DiagnosisName = m.Comp("DG1", 3, 1), m.Comp("DG1", 3, 2)
		o.OrderedBy = m.Comp("ORC", 12, 1)
		if o.Action != model.HISCancel {
			t, err := parseTS(m.Field("ORC", 9))
			if err != nil {
				return o, model.Invalid("ORC-9", "开单时间格式应为 YYYYMMDDHHMM[SS]")
			}
			o.OrderedAt = t
		}
		o.Paid = m.Field("ZPY", 1) == "Y"
	case "DFT^P03":
		switch tt := m.Field("FT1", 6); tt {
		case "PY":
			o.Action = model.HISPay
		case "CR":
			o.Action = model.HISRefund
			if a := m.Field("FT1", 11); a != "" {
				yuan, err := strconv.ParseFloat(strings.TrimPrefix(a, "-"), 64)
				if err != nil {
					return o, model.Invalid("FT1-11", "金额格式错误 %q", a)
				}
				o.RefundFen = int64(math.Round(yuan * 100))
			}
		default:
			return o, model.Invalid("FT1-6", "不支持的交易类型 %q (PY or CR)", tt)
		}
		o.OrderNo = m.Comp("FT1", 23, 1)
	default:
		return o, model.Invalid("MSH-9", "不支持的消息类型 %s (ORM^O01, DFT^P03)", m.Type())
	}
	if err := o.Validate(); err != nil {
		// Name the HL7 field the HIS sent, not the JSON one.
		if f, ok := hl7Fields[model.ErrorField(err)]; ok {
			return o, model.Invalid(f, "%s", model.ErrorMessage(err))
		}
		return o, err
	}
	return o, nil
}

// hl7Fields name, for a field of the order message, where it came from:
// a check's refusal and the core's both point the HIS at the field it sent.
var hl7Fields = map[string]string{"patient_name": "PID-5", "birth_date": "PID-7", "phone": "PID-13", "id_number": "PID-19",
	"patient_mrn": "PID-3", "order_no": "ORC-2", "quantity": "ORC-7", "project_code": "OBR-4", "diagnosis_code": "DG1-3",
	"visit_type": "PV1-2", "message_id": "MSH-10", "gender": "PID-8", "ordered_by": "ORC-12", "ordered_at": "ORC-9", "amount_fen": "FT1-11"}

func parseTS(s string) (time.Time, error) {
	for _, layout := range []string{"20060102150405", "200601021504"} {
		if len(s) >= len(layout) {
			if t, err := time.ParseInLocation(layout, s[:len(layout)], model.Local); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}

// DeadLetters keeps messages that could not be processed, for replay.
type DeadLetters interface {
	AddDeadLetter(ctx context.Context, institutionID int64, messageID string, raw []byte, code, reason string) error
}

// Intake turns HL7 messages into order messages for the core and answers
// each with an ACK: AA when applied (or already applied: replays are
// idempotent), AE when the core refused it, AR when it could not be read.
// Everything not accepted is kept as a dead letter.
type Intake struct {
	Orders        model.OrderService
	DeadLetters   DeadLetters
	InstitutionID int64
	Now           func() time.Time
	// DeadLettersPerHour caps the dead letters kept per peer and clock
	// hour (0: DefaultDeadLettersPerHour), so a misbehaving or hostile peer
	// cannot fill the disk; what is over the cap is still answered and
	// counted in Dropped, not kept.
	DeadLettersPerHour int

	mu      sync.Mutex
	hour    time.Time
	kept    map[string]int
	Dropped atomic.Int64
}

// DefaultDeadLettersPerHour is the dead-letter cap per peer and hour.
const DefaultDeadLettersPerHour = 1000

// Handle processes one raw message and returns the ACK to send back.
func (in *Intake) Handle(ctx context.Context, raw []byte) []byte {
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	ts := now().In(model.Local).Format("20060102150405")
	m, err := hl7v2.Parse(raw)
	if err != nil {
		in.dead(ctx, "", raw, "AR", err.Error())
		return hl7v2.Nak(nil, "AR", "", err.Error(), ts)
	}
	msg, err := OrderFromHL7(m, in.InstitutionID)
	if err == nil {
		ctx = model.WithActor(ctx, model.Actor{Role: model.RoleHIS, Username: "hl7:" + m.Field("MSH", 3), InstitutionID: in.InstitutionID})
		_, err = in.Orders.ReceiveOrder(ctx, msg)
	}
	if err != nil {
		text := model.ErrorCode(err) + ": " + model.ErrorMessage(err)
		in.dead(ctx, m.ControlID(), raw, "AE", text)
		field := model.ErrorField(err)
		if pos, ok := hl7Fields[field]; ok {
			field = pos
		}
		return hl7v2.Nak(m, "AE", field, text, ts)
	}
	return hl7v2.Ack(m, "AA", "", ts)
}

func (in *Intake) dead(ctx context.Context, id string, raw []byte, code, reason string) {
	if in.DeadLetters == nil || !in.keep(mllp.PeerFrom(ctx)) {
		return
	}
	in.DeadLetters.AddDeadLetter(context.WithoutCancel(ctx), in.InstitutionID, id, raw, code, reason)
}

// keep counts one dead letter of peer in the current hour and reports
// whether it is under the cap.
func (in *Intake) keep(peer string) bool {
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	hour := now().Truncate(time.Hour)
	limit := in.DeadLettersPerHour
	if limit <= 0 {
		limit = DefaultDeadLettersPerHour
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if !hour.Equal(in.hour) || in.kept == nil {
		in.hour, in.kept = hour, map[string]int{}
	}
	if in.kept[peer] >= limit {
		in.Dropped.Add(1)
		return false
	}
	in.kept[peer]++
	return true
}
