package api_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/zhiliao/zhiliao/hisfeed"
	"github.com/zhiliao/zhiliao/interop/hl7v2"
	"github.com/zhiliao/zhiliao/interop/mllp"
	"github.com/zhiliao/zhiliao/model"
)

// TestInterfacesPage: the system administrator sees the HL7 messages out
// with their ACKs, the patient's identity masked; a message the HIS
// rejected is dead with the reason and can be replayed once; the inbound
// replay is refused (409) while no intake runs; bad filters are 400.
func TestInterfacesPage(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peerCtx, stop := context.WithCancel(context.Background())
	defer stop()
	go (&mllp.Server{Handle: func(_ context.Context, raw []byte) []byte {
		m, _ := hl7v2.Parse(raw)
		return hl7v2.Nak(m, "AR", "PID-3", "本院无此患者", "20260901080000")
	}}).Serve(peerCtx, ln)
	feed := &hisfeed.Feed{Core: f.db, Peer: hisfeed.Peer{Name: "his", Addr: ln.Addr().String()},
		Client: &mllp.Client{Addr: ln.Addr().String(), Attempts: 1}, Now: f.clock.Now}
	if _, err := f.db.FeedCheckpoint(ctx, "his"); err != nil {
		t.Fatal(err)
	}
	c, _ := f.course(f.plain, 2, "王小明")
	slots := f.slots(2)
	f.mustDo(f.tokens[model.RoleFrontDesk], "POST", "/api/v1/appointments", model.NewAppointment{CourseID: c.ID, SlotID: slots[0].ID, Channel: "onsite"}, 201, nil)
	if n, err := feed.Enqueue(ctx); err != nil || n != 1 {
		t.Fatalf("queued %d: %v", n, err)
	}
	if _, _, err := feed.SendNext(ctx); err != nil {
		t.Fatal(err)
	}
	admin := f.tokens[model.RoleAdmin]
	var out struct{ Items []model.FeedMessage }
	f.mustDo(admin, "GET", "/api/v1/interfaces/hl7-out?status=dead", nil, 200, &out)
	if len(out.Items) != 1 || out.Items[0].Type != "SIU^S12" || out.Items[0].AckCode != "AR" || !strings.Contains(out.Items[0].LastError, "本院无此患者") {
		t.Fatalf("dead messages %+v", out.Items)
	}
	if msg := out.Items[0].Message; strings.Contains(msg, "王小明") || !strings.Contains(msg, "王*明") {
		t.Fatalf("the administrator sees the patient in clear:\n%s", msg)
	}
	var replayed model.FeedMessage
	f.mustDo(admin, "POST", fmt.Sprintf("/api/v1/interfaces/hl7-out/%d/replay", out.Items[0].ID), nil, 200, &replayed)
	code, body := f.do(admin, "POST", fmt.Sprintf("/api/v1/interfaces/hl7-out/%d/replay", out.Items[0].ID), nil)
	f.wantError(code, body, 409, model.ECONFLICT, "feed.not_dead")
	f.mustDo(admin, "GET", "/api/v1/interfaces/hl7-out?status=queued", nil, 200, &out)
	if len(out.Items) != 1 {
		t.Fatalf("after the replay, queued: %+v", out.Items)
	}
	code, body = f.do(admin, "POST", "/api/v1/interfaces/hl7-in/replay", nil)
	f.wantError(code, body, 409, model.ECONFLICT, "hl7.intake_off")
	f.api.ReplayInbound = func(context.Context) (int, error) { return 2, nil }
	var in struct {
		Replayed int
		Left     []model.HL7DeadLetter
	}
	f.mustDo(admin, "POST", "/api/v1/interfaces/hl7-in/replay", nil, 200, &in)
	if in.Replayed != 2 || in.Left == nil {
		t.Fatalf("inbound replay %+v", in)
	}
	for param, field := range map[string]string{"status=lost": "status", "limit=501": "limit", "order=id": "order"} {
		code, body := f.do(admin, "GET", "/api/v1/interfaces/hl7-out?"+param, nil)
		f.wantError(code, body, 400, model.EINVALID, field)
	}
}
