package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// route is one operation of the API. The same table mounts the router,
// writes the OpenAPI document and drives the role × route test, so the three
// cannot drift apart.
type route struct {
	Method, Pattern string
	Summary         string        // Chinese first
	Tag             string        // lifecycle step
	Action          policy.Action // who may (policy's table); the zero Action is public
	Audit           string        // "", policy.AuditWrite or policy.AuditRead
	Entity          string        // what the audit line names
	Body            any           // request body type, for the document
	Response        any           // response type, for the document
	Params          []string      // query parameters it takes
	handler         http.HandlerFunc
}

// auditKey carries the entity id a handler touched to the audit line.
type auditKey struct{}

type auditNote struct{ entityID string }

// call adapts a typed operation to a handler: it decodes the body (unless
// Req is struct{}), runs fn and writes the result with status.
func call[Req, Resp any](status int, fn func(ctx context.Context, r *http.Request, req Req) (Resp, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if _, empty := any(req).(struct{}); !empty {
			if err := decode(w, r, &req); err != nil {
				writeError(w, r, err)
				return
			}
		}
		if p := model.PendingAuditFrom(r.Context()); p != nil {
			p.Entry.Status = status // the status its line carries if the write commits
		}
		resp, err := fn(r.Context(), r, req)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
			if e, ok := any(resp).(model.Entity); ok && n.entityID == "" {
				n.entityID = strconv.FormatInt(model.GetMeta(e).ID, 10)
			}
		}
		writeJSON(w, status, resp)
	}
}

// mount adds every route of the table to r, each behind authentication,
// its role check and its audit line.
func (s *Server) mount(r chi.Router) {
	for _, rt := range append(s.routes(), s.extra...) {
		h := http.Handler(rt.handler)
		if rt.Audit == policy.AuditWrite {
			h = s.idempotent(h)
		}
		if rt.Audit != "" {
			h = s.auditMiddleware(rt, h)
		}
		if !rt.Action.Public() {
			h = s.authenticate(rt)(h)
		}
		r.Method(rt.Method, rt.Pattern, h)
	}
}

// auditMiddleware gives a request its audit line. A write's line travels
// in the context to the store, which commits it in the write's own
// transaction; a request whose write never committed (refused, failed) and
// every read of patient data get theirs committed before the response's
// first byte, and a read whose line cannot be written is answered 500
// without its data.
func (s *Server) auditMiddleware(rt route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note := &auditNote{entityID: chi.URLParam(r, "id")}
		p := &model.PendingAudit{Entry: model.AuditEntry{Action: rt.Audit, Route: rt.Method + " " + rt.Pattern, Entity: rt.Entity,
			EntityID: note.entityID, RequestID: middleware.GetReqID(r.Context()), Remote: s.clientAddr(r), Detail: r.URL.RawQuery}}
		ctx := context.WithValue(r.Context(), auditKey{}, note)
		if rt.Audit == policy.AuditWrite {
			ctx = model.WithPendingAudit(ctx, p)
		}
		r = r.WithContext(ctx)
		aw := &auditedResponse{ResponseWriter: w}
		aw.before = func(status int) bool {
			if p.Committed {
				return true
			}
			e := p.Entry
			e.Status = status
			if note.entityID != "" {
				e.EntityID = note.entityID
			}
			if err := s.Backend.Audit(ctx, e); err != nil {
				s.Logger.Error("audit write failed", "err", err, "route", e.Route)
				return rt.Audit == policy.AuditWrite // a refused write has nothing to withhold
			}
			return true
		}
		aw.refuse = func() {
			writeError(w, r, model.Errorf(model.EUNAVAILABLE, "审计日志写入失败，未返回数据 (audit log unavailable)"))
		}
		next.ServeHTTP(aw, r)
		if !aw.started {
			aw.WriteHeader(http.StatusOK)
		}
	})
}

// auditedResponse runs before (the audit line) when the response starts,
// and sends refuse instead of the response when it fails.
type auditedResponse struct {
	http.ResponseWriter
	before           func(status int) bool
	refuse           func()
	started, refused bool
}

func (a *auditedResponse) WriteHeader(code int) {
	if a.started {
		return
	}
	a.started = true
	if !a.before(code) {
		a.refused = true
		a.refuse()
		return
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *auditedResponse) Write(b []byte) (int, error) {
	if !a.started {
		a.WriteHeader(http.StatusOK)
	}
	if a.refused {
		return len(b), nil
	}
	return a.ResponseWriter.Write(b)
}

func (a *auditedResponse) Flush() {
	if f, ok := a.ResponseWriter.(http.Flusher); ok && a.started && !a.refused {
		f.Flush()
	}
}

func (a *auditedResponse) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// auditRead commits the audit line of a read of patient data
// (policy.ReadLine) before it returns; the caller sends nothing when it fails.
func (s *Server) auditRead(r *http.Request, read policy.Read) error {
	e := policy.ReadLine(read)
	return s.auditLine(r, e.Action, e.Route, e.Entity, e.EntityID, e.Status, e.Detail)
}

// auditLine commits one audit line before it returns; callers send their
// response only after it succeeded.
func (s *Server) auditLine(r *http.Request, action, routeName, entity, id string, status int, detail string) error {
	err := s.Backend.Audit(r.Context(), model.AuditEntry{Action: action, Route: routeName, Entity: entity, EntityID: id,
		Status: status, RequestID: middleware.GetReqID(r.Context()), Remote: s.clientAddr(r), Detail: detail})
	if err != nil {
		s.Logger.Error("audit write failed", "err", err, "route", routeName)
		return model.Errorf(model.EUNAVAILABLE, "审计日志写入失败，未返回数据 (audit log unavailable)")
	}
	return nil
}

// actorStaff returns the signed-in clinician's staff id for a clinical act.
// Identity comes from the session: a body field (field) may repeat the
// signed-in person's own id, and is refused naming the field when it names
// anyone else. The store checks the same beneath (Tx.self).
func actorStaff(ctx context.Context, given int64, field string) (int64, error) {
	id := model.ActorFrom(ctx).StaffID
	if id == 0 {
		return 0, model.Invalid(field, "当前账号未绑定医护人员，不能执行临床操作 (account has no staff record)")
	}
	if given != 0 && given != id {
		return 0, model.Invalid(field, "%s 只能是当前登录人员本人，不能以他人名义操作 (%s must be the signed-in clinician)", field, field)
	}
	return id, nil
}

func pathID(r *http.Request) (int64, error) { return idParam(r, "id") }

// Request bodies that are not model types.
type (
	displayBody struct {
		DeptID int64  `json:"dept_id"`
		Label  string `json:"label"`
	}
	displayCreated struct {
		*model.Display
		Token string `json:"token"` // shown once: only its hash is kept
		URL   string `json:"url"`
	}
	reasonBody struct {
		Reason string `json:"reason"`
	}
	rescheduleBody struct {
		SlotID int64 `json:"slot_id"`
	}
	surveySendBody struct {
		Channel string `json:"channel"`
	}
	noticePrefBody struct {
		Level    string `json:"level"`
		OptedOut bool   `json:"opted_out"`
	}
	paymentBody struct {
		MessageID string `json:"message_id"`
		OrderNo   string `json:"order_no"`
		Action    string `json:"action"` // pay, refund
		RefundFen int64  `json:"refund_fen"`
	}
	assessmentBody struct {
		Kind       string            `json:"kind"`
		Answers    map[string]string `json:"answers"`
		Score      int64             `json:"score"`
		AssessorID int64             `json:"assessor_id"`
		Sign       bool              `json:"sign"`
	}
	walkInBody struct {
		CourseID int64 `json:"course_id"`
	}
	signBody struct {
		SignerID int64 `json:"signer_id"`
	}
	amendBody struct {
		Content string `json:"content"`
	}
	replyBody struct {
		Reply string `json:"reply"`
	}
	surveyBody struct {
		Scores  map[string]int64 `json:"scores"`
		Comment string           `json:"comment"`
	}
	rosterResponse struct {
		Roster *model.Roster `json:"roster"`
		Slots  []*model.Slot `json:"slots"`
	}
	completeResponse struct {
		Session *model.Session `json:"session"`
		Record  *model.Record  `json:"record"`
	}
	followupResponse struct {
		Followup *model.Followup `json:"followup"`
		Survey   *model.Survey   `json:"survey,omitempty"`
	}
	linkResponse struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
		URL       string `json:"url"`
	}
	listResponse[T any] struct {
		Items []T `json:"items"`
		Count int `json:"count"`
	}
)

func list[T any](items []T) listResponse[T] {
	if items == nil {
		items = []T{}
	}
	return listResponse[T]{Items: items, Count: len(items)}
}

func noBody(fn func(ctx context.Context, id int64) (any, error)) func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
	return func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return fn(ctx, id)
	}
}

func withID[Req any](fn func(ctx context.Context, id int64, req Req) (any, error)) func(ctx context.Context, r *http.Request, req Req) (any, error) {
	return func(ctx context.Context, r *http.Request, req Req) (any, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		return fn(ctx, id, req)
	}
}

// routes is the API's route table.
func (s *Server) routes() []route {
	out := append(s.lifecycleRoutes(), s.accountRoutes()...)
	out = append(out, s.analyticsRoutes()...)
	out = append(out, s.martRoutes()...)
	out = append(out, s.tableRoutes()...)
	out = append(out, s.documentRoutes()...)
	out = append(out, s.interfaceRoutes()...)
	out = append(out, s.bulkRoutes()...)
	out = append(out, s.fhirRoutes()...)
	return append(out, s.exportRoutes()...)
}

// lifecycleRoutes are the routes of the transactional core.
func (s *Server) lifecycleRoutes() []route {
	b := s.Backend
	return []route{
		{Method: "POST", Pattern: "/api/v1/auth/login", Summary: "登录 log in", Tag: "auth", Body: loginRequest{}, Response: loginResponse{}, handler: s.login},
		{Method: "POST", Pattern: "/api/v1/auth/logout", Summary: "退出登录 log out", Tag: "auth", Action: policy.Anyone, handler: s.logout},
		{Method: "GET", Pattern: "/api/v1/me", Summary: "当前用户 who am I", Tag: "auth", Action: policy.Anyone, Response: meResponse{}, handler: s.me},

		{Method: "POST", Pattern: "/api/v1/his/orders", Summary: "HIS 医嘱（新开、变更、撤销，含缴费状态）", Tag: "his", Action: policy.HISInterface, Audit: policy.AuditWrite, Entity: "order",
			Body: model.OrderMessage{}, Response: model.Order{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, m model.OrderMessage) (any, error) {
				m.InstitutionID = model.ActorFrom(ctx).InstitutionID
				if m.Action != model.HISNew && m.Action != model.HISChange && m.Action != model.HISCancel {
					return nil, model.Invalid("action", "医嘱消息动作必须是 new/change/cancel（缴费请用 /his/payments）")
				}
				return b.ReceiveOrder(ctx, m)
			})},
		{Method: "POST", Pattern: "/api/v1/his/payments", Summary: "HIS 缴费与退费", Tag: "his", Action: policy.HISInterface, Audit: policy.AuditWrite, Entity: "order",
			Body: paymentBody{}, Response: model.Order{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, p paymentBody) (any, error) {
				if p.Action != model.HISPay && p.Action != model.HISRefund {
					return nil, model.Invalid("action", "动作必须是 pay 或 refund")
				}
				return b.ReceiveOrder(ctx, model.OrderMessage{InstitutionID: model.ActorFrom(ctx).InstitutionID, MessageID: p.MessageID,
					Action: p.Action, OrderNo: p.OrderNo, RefundFen: p.RefundFen})
			})},

		{Method: "POST", Pattern: "/api/v1/applications", Summary: "治疗申请（合并已缴费医嘱）", Tag: "application", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "application",
			Body: model.NewApplication{}, Response: model.Application{},
			handler: call(http.StatusCreated, func(ctx context.Context, r *http.Request, req model.NewApplication) (any, error) {
				var err error
				if req.AppliedBy, err = actorStaff(ctx, req.AppliedBy, "applied_by"); err != nil {
					return nil, err
				}
				return b.CreateApplication(ctx, req)
			})},
		{Method: "GET", Pattern: "/api/v1/applications/{id}", Summary: "治疗申请详情", Tag: "application", Action: policy.WorkTheDay, Audit: policy.AuditRead, Entity: "application",
			Response: model.ApplicationDetail{}, handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) { return b.ApplicationDetail(ctx, id) }))},
		{Method: "POST", Pattern: "/api/v1/applications/{id}/assessments", Summary: "治疗评估", Tag: "application", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "assessment",
			Body: assessmentBody{}, Response: model.Assessment{},
			handler: call(http.StatusCreated, withID(func(ctx context.Context, id int64, req assessmentBody) (any, error) {
				assessor, err := actorStaff(ctx, req.AssessorID, "assessor_id")
				if err != nil {
					return nil, err
				}
				return b.AddAssessment(ctx, model.NewAssessment{ApplicationID: id, Kind: req.Kind, Answers: req.Answers, Score: req.Score, AssessorID: assessor, Sign: req.Sign})
			}))},
		{Method: "POST", Pattern: "/api/v1/applications/{id}/course", Summary: "制定疗程", Tag: "application", Action: policy.ManageCourse, Audit: policy.AuditWrite, Entity: "course",
			Response: model.Course{}, handler: call(http.StatusCreated, noBody(func(ctx context.Context, id int64) (any, error) {
				staff, err := actorStaff(ctx, 0, "planned_by")
				if err != nil {
					return nil, err
				}
				return b.PlanCourse(ctx, id, staff)
			}))},
		{Method: "POST", Pattern: "/api/v1/courses/{id}/archive", Summary: "疗程归档（记录锁定）", Tag: "record", Action: policy.ManageCourse, Audit: policy.AuditWrite, Entity: "course",
			Response: model.Course{}, handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) { return b.ArchiveCourse(ctx, id) }))},
		{Method: "POST", Pattern: "/api/v1/courses/{id}/surveys", Summary: "发送满意度问卷（electronic 推送到患者手机页，或 paper/phone 登记）", Tag: "followup", Action: policy.Book, Audit: policy.AuditWrite, Entity: "survey",
			Body: surveySendBody{}, Response: model.Survey{},
			handler: call(http.StatusCreated, withID(func(ctx context.Context, id int64, req surveySendBody) (any, error) {
				return b.SendSurvey(ctx, id, req.Channel)
			}))},
		{Method: "POST", Pattern: "/api/v1/courses/{id}/cancel", Summary: "取消疗程", Tag: "application", Action: policy.ManageCourse, Audit: policy.AuditWrite, Entity: "course",
			Body: reasonBody{}, Response: model.Course{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req reasonBody) (any, error) {
				return b.CancelCourse(ctx, id, req.Reason)
			}))},

		{Method: "POST", Pattern: "/api/v1/rosters", Summary: "排班（生成号源）", Tag: "schedule", Action: policy.Manage, Audit: policy.AuditWrite, Entity: "roster",
			Body: model.NewRoster{}, Response: rosterResponse{},
			handler: call(http.StatusCreated, func(ctx context.Context, r *http.Request, req model.NewRoster) (any, error) {
				ro, slots, err := b.CreateRoster(ctx, req)
				return rosterResponse{ro, slots}, err
			})},
		{Method: "POST", Pattern: "/api/v1/rosters/{id}/stop", Summary: "停诊（通知已预约患者）", Tag: "schedule", Action: policy.Manage, Audit: policy.AuditWrite, Entity: "roster",
			Body: reasonBody{}, Response: model.Roster{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req reasonBody) (any, error) {
				return b.StopRoster(ctx, id, req.Reason)
			}))},
		{Method: "GET", Pattern: "/api/v1/slots", Summary: "号源查询", Tag: "schedule", Action: policy.FindSlots, Params: []string{"dept", "project", "date"},
			Response: listResponse[*model.Slot]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "dept", "project", "date"); err != nil {
					return nil, err
				}
				dept, err := queryID(r, "dept")
				if err != nil {
					return nil, err
				}
				project, err := queryID(r, "project")
				if err != nil {
					return nil, err
				}
				slots, err := b.Slots(ctx, dept, project, r.URL.Query().Get("date"))
				return list(slots), err
			})},

		{Method: "POST", Pattern: "/api/v1/appointments", Summary: "预约", Tag: "appointment", Action: policy.BookOrSelf, Audit: policy.AuditWrite, Entity: "appointment",
			Body: model.NewAppointment{}, Response: model.Appointment{},
			handler: call(http.StatusCreated, func(ctx context.Context, r *http.Request, req model.NewAppointment) (any, error) {
				if policy.PatientSelf.Allows(model.ActorFrom(ctx)) {
					req.Channel = model.ChannelWechat // a patient books from their own device
				}
				return b.BookAppointment(ctx, req)
			})},
		{Method: "POST", Pattern: "/api/v1/appointments/{id}/cancel", Summary: "取消预约", Tag: "appointment", Action: policy.BookOrSelf, Audit: policy.AuditWrite, Entity: "appointment",
			Body: reasonBody{}, Response: model.Appointment{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req reasonBody) (any, error) {
				return b.CancelAppointment(ctx, id, req.Reason)
			}))},
		{Method: "POST", Pattern: "/api/v1/appointments/{id}/reschedule", Summary: "改约（原号源释放与新号源预约在同一事务中）", Tag: "appointment", Action: policy.BookOrSelf, Audit: policy.AuditWrite, Entity: "appointment",
			Body: rescheduleBody{}, Response: model.Appointment{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req rescheduleBody) (any, error) {
				return b.RescheduleAppointment(ctx, id, req.SlotID)
			}))},
		{Method: "POST", Pattern: "/api/v1/appointments/{id}/checkin", Summary: "签到入队", Tag: "queue", Action: policy.Book, Audit: policy.AuditWrite, Entity: "queue_ticket",
			Response: model.QueueTicket{}, handler: call(http.StatusCreated, noBody(func(ctx context.Context, id int64) (any, error) { return b.CheckIn(ctx, id) }))},
		{Method: "POST", Pattern: "/api/v1/appointments/{id}/no-show", Summary: "爽约登记", Tag: "appointment", Action: policy.Book, Audit: policy.AuditWrite, Entity: "appointment",
			Response: model.Appointment{}, handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) { return b.MarkNoShow(ctx, id) }))},
		{Method: "POST", Pattern: "/api/v1/queue/walkins", Summary: "现场排队（无预约）", Tag: "queue", Action: policy.Book, Audit: policy.AuditWrite, Entity: "queue_ticket",
			Body: walkInBody{}, Response: model.QueueTicket{},
			handler: call(http.StatusCreated, func(ctx context.Context, r *http.Request, req walkInBody) (any, error) {
				if req.CourseID <= 0 {
					return nil, model.Invalid("course_id", "course_id 必须是正整数")
				}
				return b.WalkIn(ctx, req.CourseID)
			})},
		{Method: "GET", Pattern: "/api/v1/queue", Summary: "治疗队列", Tag: "queue", Action: policy.WorkTheDay, Audit: policy.AuditRead, Entity: "queue_ticket", Params: []string{"dept", "date"},
			Response: listResponse[model.QueueEntry]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "dept", "date"); err != nil {
					return nil, err
				}
				dept, err := queryID(r, "dept")
				if err != nil {
					return nil, err
				}
				q, err := b.Queue(ctx, dept, r.URL.Query().Get("date"))
				return list(q), err
			})},
		{Method: "POST", Pattern: "/api/v1/displays", Summary: "生成候诊大屏链接（只读、本科室、不随交班失效，可撤销；令牌只显示一次）", Tag: "queue",
			Action: policy.WorkTheDay, Audit: policy.AuditWrite, Entity: "display", Body: displayBody{}, Response: displayCreated{},
			handler: call(http.StatusCreated, func(ctx context.Context, r *http.Request, req displayBody) (any, error) {
				if req.DeptID <= 0 {
					return nil, model.Invalid("dept_id", "请选择科室 (dept_id is required)")
				}
				d, token, err := b.CreateDisplay(ctx, req.DeptID, req.Label)
				if err != nil {
					return nil, err
				}
				return displayCreated{Display: d, Token: token, URL: "/queue/display/" + token}, nil
			})},
		{Method: "GET", Pattern: "/api/v1/displays", Summary: "科室的候诊大屏链接", Tag: "queue", Action: policy.WorkTheDay,
			Params: []string{"dept"}, Response: listResponse[model.Display]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "dept"); err != nil {
					return nil, err
				}
				dept, err := queryID(r, "dept")
				if err != nil {
					return nil, err
				}
				ds, err := b.Displays(ctx, dept)
				return list(ds), err
			})},
		{Method: "POST", Pattern: "/api/v1/displays/{id}/revoke", Summary: "撤销候诊大屏链接（大屏数秒内显示已撤销）", Tag: "queue",
			Action: policy.WorkTheDay, Audit: policy.AuditWrite, Entity: "display",
			handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) {
				return map[string]any{"id": id, "revoked": true}, b.RevokeDisplay(ctx, id)
			}))},
		// The display link's board: the token in the path is its only
		// authority; no audit line (polled every 3 s, masked names only).
		{Method: "GET", Pattern: "/api/v1/display/{token}/board", Summary: "候诊大屏（凭大屏链接令牌；仅号码、脱敏姓名与诊室）", Tag: "queue",
			Response: model.QueueBoard{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r); err != nil {
					return nil, err
				}
				return b.DisplayBoard(ctx, chi.URLParam(r, "token"))
			})},
		{Method: "GET", Pattern: "/api/v1/queue/board", Summary: "候诊大屏：今日叫号与候诊（仅号码与脱敏姓名）", Tag: "queue", Action: policy.WorkTheDay, Params: []string{"dept"},
			// No audit line: the display polls it every few seconds, and it
			// carries no identifying data (numbers and masked names only).
			Response: model.QueueBoard{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "dept"); err != nil {
					return nil, err
				}
				dept, err := queryID(r, "dept")
				if err != nil {
					return nil, err
				}
				return b.QueueBoard(ctx, dept)
			})},
		{Method: "POST", Pattern: "/api/v1/queue/{id}/call", Summary: "叫号", Tag: "queue", Action: policy.Book, Audit: policy.AuditWrite, Entity: "queue_ticket",
			Response: model.QueueTicket{}, handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) { return b.CallTicket(ctx, id) }))},

		{Method: "GET", Pattern: "/api/v1/consent-projects", Summary: "需知情同意的项目及其现行文本（科室主任维护；本科室）", Tag: "execution",
			Action: policy.KeepConsentTexts, Response: listResponse[model.ProjectConsentText]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r); err != nil {
					return nil, err
				}
				ps, err := b.ConsentProjects(ctx)
				return list(ps), err
			})},
		{Method: "GET", Pattern: "/api/v1/projects/{id}/consent-templates", Summary: "项目知情同意书文本（各版本，最新版在前，现行版为第一项）", Tag: "execution",
			Action: policy.ReadConsentTemplates, Response: listResponse[*model.ConsentTemplate]{},
			handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) {
				ts, err := b.ConsentTemplates(ctx, id)
				return list(ts), err
			}))},
		{Method: "POST", Pattern: "/api/v1/projects/{id}/consent-templates", Summary: "保存知情同意书新版本（科室主任；版本不可修改，签署绑定现行版）", Tag: "execution",
			Action: policy.Manage, Audit: policy.AuditWrite, Entity: "consent_template", Body: model.NewConsentTemplate{}, Response: model.ConsentTemplate{},
			handler: call(http.StatusCreated, withID(func(ctx context.Context, id int64, req model.NewConsentTemplate) (any, error) {
				req.ProjectID = id
				return b.SaveConsentTemplate(ctx, req)
			}))},
		{Method: "GET", Pattern: "/api/v1/consents/{id}/text", Summary: "已签知情同意书及其签署时的全文（SM3 校验）", Tag: "record", Action: policy.ReadConsentText,
			Audit: policy.AuditRead, Entity: "consent", Response: model.SignedConsentText{},
			handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) {
				ct, err := b.ConsentText(ctx, id)
				if err == nil && deidentified(model.ActorFrom(ctx)) {
					ct.Consent.SignerName = model.MaskName(ct.Consent.SignerName)
				}
				return ct, err
			}))},
		{Method: "POST", Pattern: "/api/v1/consents", Summary: "知情同意书电子签名（须先完整展示现行版文本，template_id）", Tag: "execution", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "consent",
			Body: model.NewConsent{}, Response: model.Consent{},
			handler: call(http.StatusCreated, func(ctx context.Context, r *http.Request, req model.NewConsent) (any, error) {
				var err error
				if req.WitnessID, err = actorStaff(ctx, req.WitnessID, "witness_id"); err != nil {
					return nil, err
				}
				return b.SignConsent(ctx, req)
			})},
		{Method: "POST", Pattern: "/api/v1/sessions", Summary: "开始治疗（再次确费、知情同意校验）", Tag: "execution", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "session",
			Body: model.StartSession{}, Response: model.Session{},
			handler: call(http.StatusCreated, func(ctx context.Context, r *http.Request, req model.StartSession) (any, error) {
				var err error
				if req.PerformerID, err = actorStaff(ctx, req.PerformerID, "performer_id"); err != nil {
					return nil, err
				}
				return b.StartSession(ctx, req)
			})},
		{Method: "POST", Pattern: "/api/v1/sessions/{id}/images", Summary: "影像采集（multipart: phase, image）", Tag: "execution", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "image", Params: []string{"phase"},
			Response: model.Image{}, handler: s.uploadImage},
		{Method: "POST", Pattern: "/api/v1/sessions/{id}/complete", Summary: "完成治疗（确认收费、生成记录）", Tag: "execution", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "session",
			Body: model.CompleteSession{}, Response: completeResponse{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req model.CompleteSession) (any, error) {
				req.SessionID = id
				sess, rec, err := b.CompleteSession(ctx, req)
				return completeResponse{sess, rec}, err
			}))},
		{Method: "POST", Pattern: "/api/v1/sessions/{id}/abort", Summary: "中止治疗", Tag: "execution", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "session",
			Body: reasonBody{}, Response: model.Session{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req reasonBody) (any, error) {
				return b.AbortSession(ctx, id, req.Reason)
			}))},
		{Method: "POST", Pattern: "/api/v1/records/{id}/sign", Summary: "治疗记录电子签名", Tag: "record", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "record",
			Body: signBody{}, Response: model.Record{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req signBody) (any, error) {
				signer, err := actorStaff(ctx, req.SignerID, "signer_id")
				if err != nil {
					return nil, err
				}
				return b.SignRecord(ctx, id, signer)
			}))},
		{Method: "POST", Pattern: "/api/v1/records/{id}/amend", Summary: "修改治疗记录（需重新签名）", Tag: "record", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "record",
			Body: amendBody{}, Response: model.Record{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req amendBody) (any, error) {
				return b.AmendRecord(ctx, id, req.Content)
			}))},
		{Method: "GET", Pattern: "/api/v1/patients/{id}/archive", Summary: "患者治疗档案（评审专家为脱敏数据）", Tag: "record", Action: policy.ReadArchive, Audit: policy.AuditRead, Entity: "patient",
			Response: model.PatientArchive{}, handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) {
				ar, err := b.PatientArchive(ctx, id)
				if err == nil && deidentified(model.ActorFrom(ctx)) {
					ar.Deidentify()
				}
				return ar, err
			}))},
		{Method: "GET", Pattern: "/api/v1/patients", Summary: "按手机号或身份证号精确查找本院患者（盲索引，不解密其他患者）", Tag: "patient", Action: policy.Book, Audit: policy.AuditRead, Entity: "patient",
			Params: []string{"phone", "id_number"}, Response: listResponse[*model.Patient]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "phone", "id_number"); err != nil {
					return nil, err
				}
				q := r.URL.Query()
				field, value := "phone", q.Get("phone")
				if q.Has("id_number") {
					if q.Has("phone") {
						return nil, model.Invalid("id_number", "手机号和身份证号只能给一个 (phone or id_number, not both)")
					}
					field, value = "id_number", q.Get("id_number")
				}
				p, err := b.FindPatients(ctx, field, value)
				return list(p), err
			})},
		{Method: "POST", Pattern: "/api/v1/patients/{id}/link", Summary: "生成患者链接（查看预约、注意事项、问卷）", Tag: "patient", Action: policy.Book, Audit: policy.AuditWrite, Entity: "patient",
			Response: linkResponse{}, handler: call(http.StatusCreated, noBody(func(ctx context.Context, id int64) (any, error) {
				token, exp, err := b.CreatePatientLink(ctx, id)
				return linkResponse{Token: token, ExpiresAt: exp.Format("2006-01-02T15:04:05Z07:00"), URL: "/p/" + token}, err
			}))},

		{Method: "GET", Pattern: "/api/v1/followups", Summary: "随访任务", Tag: "followup", Action: policy.ManageCourse, Audit: policy.AuditRead, Entity: "followup", Params: []string{"due"},
			Response: listResponse[*model.Followup]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "due"); err != nil {
					return nil, err
				}
				f, err := b.FollowupsInScope(ctx, r.URL.Query().Get("due"))
				return list(f), err
			})},
		{Method: "POST", Pattern: "/api/v1/followups/{id}/complete", Summary: "完成随访（可附满意度问卷）", Tag: "followup", Action: policy.Treat, Audit: policy.AuditWrite, Entity: "followup",
			Body: model.FollowupResult{}, Response: followupResponse{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req model.FollowupResult) (any, error) {
				var err error
				if req.DoneBy, err = actorStaff(ctx, req.DoneBy, "done_by"); err != nil {
					return nil, err
				}
				f, sv, err := b.CompleteFollowup(ctx, id, req)
				return followupResponse{f, sv}, err
			}))},
		{Method: "POST", Pattern: "/api/v1/complaints", Summary: "投诉", Tag: "feedback", Action: policy.FileComplaint, Audit: policy.AuditWrite, Entity: "complaint",
			Body: model.NewComplaint{}, Response: model.Complaint{},
			handler: call(http.StatusCreated, func(ctx context.Context, r *http.Request, req model.NewComplaint) (any, error) {
				if a := model.ActorFrom(ctx); policy.PatientSelf.Allows(a) {
					req.PatientID, req.Channel = a.PatientID, "electronic"
				}
				return b.FileComplaint(ctx, req)
			})},
		{Method: "POST", Pattern: "/api/v1/complaints/{id}/reply", Summary: "投诉回复", Tag: "feedback", Action: policy.Manage, Audit: policy.AuditWrite, Entity: "complaint",
			Body: replyBody{}, Response: model.Complaint{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req replyBody) (any, error) {
				staff, err := actorStaff(ctx, 0, "replied_by")
				if err != nil {
					return nil, err
				}
				return b.ReplyComplaint(ctx, id, staff, req.Reply)
			}))},

		{Method: "GET", Pattern: "/api/v1/patient/home", Summary: "患者本人：预约、注意事项、待填问卷", Tag: "patient", Action: policy.PatientSelf, Audit: policy.AuditRead, Entity: "patient",
			Response: model.PatientHome{}, handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) { return b.PatientHome(ctx) })},
		{Method: "GET", Pattern: "/api/v1/notifications/{id}/deliveries", Summary: "通知投递记录（每次尝试的渠道、时间、结果）", Tag: "patient", Action: policy.WorkTheDay,
			Audit: policy.AuditRead, Entity: "notification", Response: listResponse[model.NoticeDelivery]{},
			handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) {
				d, err := b.NoticeDeliveries(ctx, id)
				return list(d), err
			}))},
		{Method: "POST", Pattern: "/api/v1/notifications/{id}/retry", Summary: "重新投递失败或已放弃的通知", Tag: "patient", Action: policy.WorkTheDay,
			Audit: policy.AuditWrite, Entity: "notification", Response: model.Notification{},
			handler: call(http.StatusOK, noBody(func(ctx context.Context, id int64) (any, error) { return b.RetryNotice(ctx, id) }))},
		{Method: "GET", Pattern: "/api/v1/desk", Summary: "前台工作台：科室当日预约、队列、号源与待预约疗程", Tag: "queue", Action: policy.WorkTheDay, Audit: policy.AuditRead, Entity: "appointment",
			Params: []string{"dept", "date"}, Response: model.DeskDay{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "dept", "date"); err != nil {
					return nil, err
				}
				dept, err := queryID(r, "dept")
				if err != nil {
					return nil, err
				}
				return b.DeskDay(ctx, dept, r.URL.Query().Get("date"))
			})},
		{Method: "GET", Pattern: "/api/v1/desk/patients", Summary: "前台查找本科室患者：姓名（部分）、病案号、手机号后 4 位（加密字段的带密钥后缀索引）、完整手机号或身份证号；含今后的预约与在治疗程",
			Tag: "queue", Action: policy.WorkTheDay, Audit: policy.AuditRead, Entity: "patient",
			Params: []string{"dept", "q"}, Response: listResponse[model.DeskPatient]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				if err := knownParams(r, "dept", "q"); err != nil {
					return nil, err
				}
				dept, err := queryID(r, "dept")
				if err != nil {
					return nil, err
				}
				found, err := b.SearchPatients(ctx, dept, r.URL.Query().Get("q"))
				return list(found), err
			})},
		{Method: "GET", Pattern: "/api/v1/qr", Summary: "二维码（SVG）：本服务的患者手机链接，供前台出示与回执打印", Tag: "patient", Action: policy.WorkTheDay,
			Params: []string{"url"}, handler: s.qrCode},
		{Method: "GET", Pattern: "/api/v1/workstation", Summary: "治疗工作站：本科室今日队列及每位患者的项目、疗程进度、知情同意、治疗、影像、记录与记录模板", Tag: "execution",
			Action: policy.Treat, Audit: policy.AuditRead, Entity: "queue_ticket", Response: model.Workstation{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) { return b.Workstation(ctx) })},
		{Method: "GET", Pattern: "/api/v1/patient/queue", Summary: "患者本人：今日排队位置（前面还有几人、当前叫号）", Tag: "patient", Action: policy.PatientSelf,
			// No audit line: the patient's own page polls it; /patient/home,
			// which it refreshes, is audited.
			Response: listResponse[model.PatientTicket]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				t, err := b.PatientTickets(ctx)
				return list(t), err
			})},
		{Method: "GET", Pattern: "/api/v1/patient/notice-preferences", Summary: "患者本人：各级消息的接收设置", Tag: "patient", Action: policy.PatientSelf,
			Response: listResponse[model.NoticePref]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, _ struct{}) (any, error) {
				p, err := b.NoticePrefs(ctx)
				return list(p), err
			})},
		{Method: "PUT", Pattern: "/api/v1/patient/notice-preferences", Summary: "患者本人：退订或恢复一级消息（重要通知不可退订）", Tag: "patient", Action: policy.PatientSelf,
			Audit: policy.AuditWrite, Entity: "notification", Body: noticePrefBody{}, Response: listResponse[model.NoticePref]{},
			handler: call(http.StatusOK, func(ctx context.Context, r *http.Request, req noticePrefBody) (any, error) {
				p, err := b.SetNoticePref(ctx, req.Level, req.OptedOut)
				return list(p), err
			})},
		{Method: "POST", Pattern: "/api/v1/patient/surveys/{id}", Summary: "患者本人填写满意度问卷", Tag: "patient", Action: policy.PatientSelf, Audit: policy.AuditWrite, Entity: "survey",
			Body: surveyBody{}, Response: model.Survey{},
			handler: call(http.StatusOK, withID(func(ctx context.Context, id int64, req surveyBody) (any, error) {
				return b.AnswerSurvey(ctx, id, req.Scores, req.Comment)
			}))},
	}
}

// Upload limits: an image is at most maxImageBytes, and at most
// maxUploads are read at once, so memory stays bounded (maxUploads ×
// maxImageBytes) however many clients upload together.
const (
	maxImageBytes = 20 << 20
	maxUploads    = 4
)

var uploadSlots = make(chan struct{}, maxUploads)

// uploadImage takes a multipart image (fields phase, image). Session,
// scope and state are checked before a byte of the body is read; the body
// is streamed part by part into memory (no temporary files, so a refused
// upload leaves nothing behind) and refused past maxImageBytes.
func (s *Server) uploadImage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	staff, err := actorStaff(r.Context(), 0, "taken_by")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.Backend.CheckImageTarget(r.Context(), id, r.URL.Query().Get("phase")); err != nil {
		writeError(w, r, err)
		return
	}
	select {
	case uploadSlots <- struct{}{}:
		defer func() { <-uploadSlots }()
	case <-r.Context().Done():
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxImageBytes+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, r, model.Invalid("body", "需要 multipart/form-data 请求体 (multipart body expected)"))
		return
	}
	var phase string
	var data []byte
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			writeError(w, r, decodeError(err))
			return
		}
		switch part.FormName() {
		case "phase":
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				writeError(w, r, decodeError(err))
				return
			}
			phase = string(b)
		case "image":
			var buf bytes.Buffer
			n, err := buf.ReadFrom(io.LimitReader(part, maxImageBytes+1))
			if err != nil {
				writeError(w, r, decodeError(err))
				return
			}
			if n > maxImageBytes {
				writeError(w, r, &model.Error{Code: model.ETOOLARGE, Field: "image", Message: "图像超过 20 MiB (image too large)"})
				return
			}
			data = buf.Bytes()
		}
		part.Close()
	}
	if data == nil {
		writeError(w, r, model.Invalid("image", "缺少图像文件字段 image (multipart field missing)"))
		return
	}
	img, err := s.Backend.AddImage(r.Context(), model.NewImage{SessionID: id, Phase: phase, ContentType: http.DetectContentType(data), Data: data, TakenBy: staff})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
		n.entityID = fmt.Sprint(img.ID)
	}
	writeJSON(w, http.StatusCreated, img)
}

// deidentified reports whether an actor reads patients masked: evaluators,
// and the administrators (who keep the system, not the records).
func deidentified(a model.Actor) bool { return policy.Deidentified(a) }
