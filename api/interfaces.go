package api

import (
	"context"
	"net/http"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// The integration engineer's view of the HL7 traffic: the messages out to
// each peer with their ACKs, the messages in that could not be applied,
// and the replay of both. Patient identity in the messages is masked for a
// reader who sees patients de-identified (the system administrator).

type replayInResponse struct {
	Replayed int                   `json:"replayed"`
	Left     []model.HL7DeadLetter `json:"left"`
}

var feedStatuses = map[string]bool{model.FeedQueued: true, model.FeedAcked: true, model.FeedDead: true, model.FeedReplay: true}

func (s *Server) interfaceRoutes() []route {
	b := s.Backend
	mask := func(ctx context.Context, msg string) string {
		if policy.Deidentified(model.ActorFrom(ctx)) {
			return model.MaskHL7(msg)
		}
		return msg
	}
	deadLetters := func(ctx context.Context, limit int) ([]model.HL7DeadLetter, error) {
		letters, err := b.HL7DeadLetters(ctx, limit)
		for i := range letters {
			letters[i].Raw = mask(ctx, letters[i].Raw)
		}
		return letters, err
	}
	return []route{
		{Method: "GET", Pattern: "/api/v1/interfaces/hl7-out", Summary: "发往 HIS 与集成平台的 HL7 消息及其应答", Tag: "interfaces", Action: policy.Integration,
			Audit: policy.AuditRead, Entity: "feed_message", Params: []string{"peer", "status", "limit"}, Response: listResponse[*model.FeedMessage]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "peer", "status", "limit"); err != nil {
					return nil, err
				}
				q := model.FeedQuery{Peer: r.URL.Query().Get("peer"), Status: r.URL.Query().Get("status")}
				if q.Status != "" && !feedStatuses[q.Status] {
					return nil, model.Invalid("status", "状态应为 queued、acked、dead 或 replayed")
				}
				if len(q.Peer) > 40 {
					return nil, model.Invalid("peer", "对端名称过长")
				}
				var err error
				if q.Limit, err = limitParam(r, 100); err != nil {
					return nil, err
				}
				msgs, err := b.FeedMessages(ctx, q)
				for _, m := range msgs {
					m.Message = mask(ctx, m.Message)
				}
				return list(msgs), err
			})},
		{Method: "POST", Pattern: "/api/v1/interfaces/hl7-out/{id}/replay", Summary: "重发一条发送失败的 HL7 消息（排在队尾）", Tag: "interfaces", Action: policy.Integration,
			Audit: policy.AuditWrite, Entity: "feed_message", Response: model.FeedMessage{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, _ struct{}) (any, error) {
				m, err := b.ReplayFeedMessage(ctx, id)
				if m != nil {
					m.Message = mask(ctx, m.Message)
				}
				return m, err
			}))},
		{Method: "GET", Pattern: "/api/v1/interfaces/hl7-in/dead-letters", Summary: "HIS 发来但未能处理的 HL7 消息（死信）", Tag: "interfaces", Action: policy.Integration,
			Audit: policy.AuditRead, Entity: "his_dead_letter", Params: []string{"limit"}, Response: listResponse[model.HL7DeadLetter]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "limit"); err != nil {
					return nil, err
				}
				limit, err := limitParam(r, 100)
				if err != nil {
					return nil, err
				}
				letters, err := deadLetters(ctx, limit)
				return list(letters), err
			})},
		{Method: "POST", Pattern: "/api/v1/interfaces/hl7-in/replay", Summary: "重新处理 HIS 死信（修正原因后）", Tag: "interfaces", Action: policy.Integration,
			Audit: policy.AuditWrite, Entity: "his_dead_letter", Response: replayInResponse{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if s.ReplayInbound == nil {
					return nil, model.Conflict("hl7.intake_off", "HL7 接收未启用（--mllp-addr），没有可重放的死信 (the MLLP intake is off)")
				}
				n, err := s.ReplayInbound(ctx)
				if err != nil {
					return nil, err
				}
				left, err := deadLetters(ctx, 100)
				return replayInResponse{Replayed: n, Left: left}, err
			})},
	}
}
