package his_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/ingest/his"
	"github.com/zhiliao/zhiliao/interop/hl7v2"
	"github.com/zhiliao/zhiliao/interop/mllp"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/store"
)

const newOrder = "MSH|^~\\&|HIS|H001|ZHILIAO|H001|202603020815||ORM^O01|MSG0001|P|2.5\r" +
	"PID|1||MRN0001^^^H001||王^小明||19800315|M|||||13812345678||||||110105198003150012\r" +
	"PV1|1|O\r" +
	"ORC|NW|RX0001|||||5^^^||202603020810|||D001^张医生\r" +
	"OBR|1|RX0001||KF001^运动疗法\r" +
	"DG1|1||M54.5^腰痛\r" +
	"ZPY|Y\r"

func TestParseAndMap(t *testing.T) {
	m, err := hl7v2.Parse([]byte(newOrder))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != "ORM^O01" || m.ControlID() != "MSG0001" || m.Comp("PID", 5, 2) != "小明" {
		t.Fatalf("parsed %s %s %s", m.Type(), m.ControlID(), m.Comp("PID", 5, 2))
	}
	o, err := his.OrderFromHL7(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := model.OrderMessage{InstitutionID: 1, MessageID: "MSG0001", Action: model.HISNew, OrderNo: "RX0001", PatientMRN: "MRN0001",
		PatientName: "王小明", Gender: "M", BirthDate: "1980-03-15", Phone: "13812345678", IDNumber: "110105198003150012",
		ProjectCode: "KF001", Quantity: 5, VisitType: model.VisitOutpatient, DiagnosisCode: "M54.5", DiagnosisName: "腰痛",
		OrderedBy: "D001", OrderedAt: time.Date(2026, 3, 2, 8, 10, 0, 0, model.Local), Paid: true}
	if o != want {
		t.Fatalf("mapped\n%+v\nwant\n%+v", o, want)
	}
	for _, bad := range []string{"", "hello", "MSH|^~\\&|HIS\r", "PID|1\rMSH|^~\\&|X"} {
		if _, err := hl7v2.Parse([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
	refund, _ := hl7v2.Parse([]byte("MSH|^~\\&|HIS|H001|ZHILIAO|H001|202603030900||DFT^P03|MSG0009|P|2.5\rFT1|1|||||CR|||||-135.50||||||||||||RX0001\r"))
	o, err = his.OrderFromHL7(refund, 1)
	if err != nil || o.Action != model.HISRefund || o.RefundFen != 13550 || o.OrderNo != "RX0001" {
		t.Fatalf("refund %+v %v", o, err)
	}
}

// TestMLLPIntake sends HL7 over a real TCP connection to the intake backed by
// a real core: accepted orders are applied once, refused and unreadable ones
// are NAKed and kept, and a dead letter replays once its cause is fixed.
func TestMLLPIntake(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "core.db"), store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	inst := &model.Institution{Code: "H001", Name: "示例医院"}
	must(t, db.CreateInstitution(ctx, inst))
	dept := &model.Department{Code: "KF", Name: "康复医学科"}
	dept.InstitutionID = inst.ID
	must(t, db.CreateDepartment(ctx, dept))
	p := &model.Project{DeptID: dept.ID, Code: "KF001", Name: "运动疗法", UnitPriceFen: 4500, Minutes: 30, CourseSessions: 10, Active: true}
	p.InstitutionID = inst.ID
	must(t, db.CreateProject(ctx, p))

	intake := &his.Intake{Orders: db, DeadLetters: db, InstitutionID: inst.ID}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mllp.Server{Handle: intake.Handle}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	send := func(msg string) string {
		t.Helper()
		if err := mllp.WriteFrame(conn, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		ack, err := mllp.ReadFrame(r, mllp.DefaultMaxFrame)
		if err != nil {
			t.Fatal(err)
		}
		m, err := hl7v2.Parse(ack)
		if err != nil {
			t.Fatalf("ack %q: %v", ack, err)
		}
		out := m.Field("MSA", 1) + " " + m.Field("MSA", 2) + " " + m.Field("MSA", 3)
		if m.Field("MSA", 1) != "AA" {
			// A refusal names what was wrong in an ERR segment (HL7 v2.5).
			if m.Field("ERR", 4) != "E" || m.Field("ERR", 8) == "" || m.Comp("ERR", 3, 3) != "HL70357" {
				t.Fatalf("refusal without its ERR segment: %q", ack)
			}
			out += " ERR " + m.Field("ERR", 2)
		}
		return out
	}
	if ack := send(newOrder); !strings.HasPrefix(ack, "AA MSG0001") {
		t.Fatalf("new order: %s", ack)
	}
	if ack := send(newOrder); !strings.HasPrefix(ack, "AA MSG0001") { // replay: idempotent
		t.Fatalf("replayed order: %s", ack)
	}
	var orders, events int
	db.Reader().QueryRow("SELECT COUNT(*) FROM his_order WHERE order_no = 'RX0001' AND status = 'paid' AND quantity = 5").Scan(&orders)
	db.Reader().QueryRow("SELECT COUNT(*) FROM cdc_outbox WHERE entity = 'order'").Scan(&events)
	if orders != 1 || events != 2 {
		t.Fatalf("orders %d, order events %d", orders, events)
	}
	unknown := strings.NewReplacer("MSG0001", "MSG0002", "RX0001", "RX0002", "KF001^", "KF777^").Replace(newOrder)
	if ack := send(unknown); !strings.HasPrefix(ack, "AE MSG0002 invalid") || !strings.HasSuffix(ack, "ERR OBR^1^4") {
		t.Fatalf("unknown project: %s", ack)
	}
	if ack := send("MSH|garbage"); !strings.HasPrefix(ack, "AR") {
		t.Fatalf("garbage: %s", ack)
	}
	pending, err := db.PendingDeadLetters(ctx, 10)
	if err != nil || len(pending) != 2 || pending[0].MessageID != "MSG0002" || pending[1].AckCode != "AR" {
		t.Fatalf("dead letters %+v %v", pending, err)
	}
	// The operator adds the missing project and replays the dead letter.
	p2 := &model.Project{DeptID: dept.ID, Code: "KF777", Name: "新项目", UnitPriceFen: 100, Minutes: 30, CourseSessions: 5, Active: true}
	p2.InstitutionID = inst.ID
	must(t, db.CreateProject(ctx, p2))
	replayed, err := his.Replay(ctx, intake, db, 100)
	if err != nil || replayed != 1 {
		t.Fatalf("replayed %d: %v", replayed, err)
	}
	pending, _ = db.PendingDeadLetters(ctx, 10)
	db.Reader().QueryRow("SELECT COUNT(*) FROM his_order WHERE order_no = 'RX0002'").Scan(&orders)
	if len(pending) != 1 || pending[0].AckCode != "AR" || orders != 1 {
		t.Fatalf("after replay: pending %+v, RX0002 orders %d", pending, orders)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
