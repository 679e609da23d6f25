// Package frontline owns the pages of the people who perform the treatment
// day rather than analyse it: the patient's phone page opened from the link
// the front desk sends (/p/{token} → /m/), the waiting-room display of a
// department's queue (/queue/board), the therapist's tablet workstation
// (/pad/) and the front desk (/desk/). They are server-rendered shells in
// Chinese, embedded in the binary with their scripts and styles, that draw
// from the API with the session cookie, so the API's role, department and
// patient scope applies to everything they show; a page refuses a visitor
// the API would refuse. It imports model and access only; api mounts it.
package frontline

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

//go:embed templates static
var files embed.FS

// Auth is what the pages need from the core's sessions.
type Auth interface {
	Authenticate(ctx context.Context, token string) (model.Actor, error)
	// LinkExpiry is when a patient link's token stops working, and how long
	// that is from now.
	LinkExpiry(ctx context.Context, token string) (time.Time, time.Duration, error)
}

// Cookie is the session cookie; the API and the dashboards read the same one.
const Cookie = "zhiliao_session"

// Handler serves /p/, /m/ and /queue/board.
type Handler struct {
	Auth   Auth
	Logger *slog.Logger
	tmpl   *template.Template
	mux    *http.ServeMux
}

// New builds the handler.
func New(auth Auth, logger *slog.Logger) *Handler {
	h := &Handler{Auth: auth, Logger: logger.With("component", "frontline")}
	h.tmpl = template.Must(template.New("").ParseFS(files, "templates/*.html"))
	static, _ := fs.Sub(files, "static")
	h.mux = http.NewServeMux()
	h.mux.Handle("GET /front/static/", http.StripPrefix("/front/static/", cacheStatic(http.FileServerFS(static))))
	h.mux.HandleFunc("GET /p/{token}", h.linkPage)
	h.mux.HandleFunc("POST /p/{token}", h.openLink)
	h.mux.HandleFunc("GET /m/{$}", h.patientPage)
	h.mux.HandleFunc("GET /queue/board", h.boardPage)
	h.mux.HandleFunc("GET /queue/display/{token}", h.displayPage)
	h.mux.HandleFunc("GET /pad/{$}", h.padPage)
	h.mux.HandleFunc("GET /desk/{$}", h.deskPage)
	return h
}

// Page is a staff page of the front line and the action that opens it.
type Page struct {
	Path, Title string
	Action      policy.Action
}

// The staff pages (the patient's pages open with the patient's own session).
var (
	DeskPage  = Page{"/desk/", "前台工作台", policy.WorkTheDay}
	PadPage   = Page{"/pad/", "治疗工作站", policy.Treat} // and a staff record bound to the account
	BoardPage = Page{"/queue/board", "候诊大屏", policy.WorkTheDay}
	Pages     = []Page{DeskPage, PadPage, BoardPage}
)

// Patterns are the paths api mounts the handler under.
var Patterns = []string{"/p/*", "/m/*", "/m", "/pad/*", "/pad", "/desk/*", "/desk", "/queue/board", "/queue/display/*", "/front/static/*"}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin") // a link's token never leaves in a Referer to another site (no-referrer would make the landing form's Origin "null")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'")
	if r.URL.Path == "/m" || r.URL.Path == "/pad" || r.URL.Path == "/desk" {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusFound)
		return
	}
	h.mux.ServeHTTP(w, r)
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}

type noticeView struct {
	Title, Message string
	Token          string // the link landing's form target
	Expires        string
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, v any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := h.tmpl.ExecuteTemplate(w, name, v); err != nil {
		h.Logger.Error("render", "page", name, "err", err)
	}
}

// deadLink is the page of a link that no longer opens anything: it names
// no patient and shows no data, whoever holds it.
func (h *Handler) deadLink(w http.ResponseWriter, err error) {
	msg := "链接无效、已过期或已被撤销。请联系治疗室前台重新发送链接。"
	if model.ErrorCode(err) != model.EUNAUTHORIZED {
		msg = "暂时无法打开，请稍后重试。"
		h.Logger.Error("patient link", "err", err)
	}
	h.render(w, http.StatusGone, "notice.html", noticeView{Title: "链接已失效", Message: msg})
}

// linkPage is where the link in the message lands. Opening it changes
// nothing: the patient taps 进入 to post the form that sets the session
// cookie. A GET that logged the browser in would let another site log a
// visitor into someone else's link (login CSRF), and a messenger's link
// preview would open sessions nobody asked for.
func (h *Handler) linkPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	a, err := h.Auth.Authenticate(r.Context(), token)
	if err == nil && !policy.PatientSelf.Allows(a) {
		err = model.Errorf(model.EUNAUTHORIZED, "not a patient link")
	}
	if err != nil {
		h.deadLink(w, err)
		return
	}
	exp, _, err := h.Auth.LinkExpiry(r.Context(), token)
	if err != nil {
		h.deadLink(w, err)
		return
	}
	h.render(w, http.StatusOK, "link.html", noticeView{Title: "我的治疗服务", Token: token, Expires: exp.In(model.Local).Format("2006-01-02 15:04")})
}

// openLink sets the session cookie from a live patient link and goes to
// the patient page, dropping the token from the address bar.
func (h *Handler) openLink(w http.ResponseWriter, r *http.Request) {
	if !access.FormFromSameOrigin(r) {
		http.Error(w, "跨站请求被拒绝 cross-site request refused", http.StatusForbidden)
		return
	}
	token := r.PathValue("token")
	a, err := h.Auth.Authenticate(r.Context(), token)
	if err == nil && !policy.PatientSelf.Allows(a) {
		err = model.Errorf(model.EUNAUTHORIZED, "not a patient link")
	}
	var left time.Duration
	if err == nil {
		_, left, err = h.Auth.LinkExpiry(r.Context(), token)
	}
	if err != nil {
		h.deadLink(w, err)
		return
	}
	// Max-Age, not Expires: the browser counts it on its own clock.
	http.SetCookie(w, &http.Cookie{Name: Cookie, Value: token, Path: "/", MaxAge: max(1, int(left.Seconds())), HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: access.SecureCookie(r)})
	http.Redirect(w, r, "/m/", http.StatusSeeOther)
}

// session resolves the cookie to its actor.
func (h *Handler) session(r *http.Request) (model.Actor, error) {
	c, err := r.Cookie(Cookie)
	if err != nil {
		return model.Actor{}, model.Errorf(model.EUNAUTHORIZED, "no session")
	}
	return h.Auth.Authenticate(r.Context(), c.Value)
}

func (h *Handler) patientPage(w http.ResponseWriter, r *http.Request) {
	a, err := h.session(r)
	if err == nil && !policy.PatientSelf.Allows(a) {
		err = model.Errorf(model.EUNAUTHORIZED, "not a patient session")
	}
	if err != nil {
		if model.ErrorCode(err) != model.EUNAUTHORIZED {
			h.Logger.Error("patient page", "err", err)
		}
		h.render(w, http.StatusUnauthorized, "notice.html", noticeView{Title: "请从医院发送的链接进入",
			Message: "本页只显示链接所属患者本人的预约与排队信息。链接过期后，请联系治疗室前台重新发送。"})
		return
	}
	h.render(w, http.StatusOK, "patient.html", nil)
}

type boardView struct {
	DeptID int64  // a staff session's board
	Token  string // or a display link's
}

// boardPage is the waiting-room display opened with a staff session of
// policy.WorkTheDay: the roles the API's /queue/board answers.
func (h *Handler) boardPage(w http.ResponseWriter, r *http.Request) {
	a, err := h.session(r)
	if err != nil {
		http.Redirect(w, r, "/dash/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if !BoardPage.Action.Allows(a) {
		h.render(w, http.StatusForbidden, "notice.html", noticeView{Title: "无权打开候诊大屏", Message: "候诊大屏由前台、治疗师或科室主任的账号打开。"})
		return
	}
	dept := a.DeptID
	if v := r.URL.Query().Get("dept"); v != "" {
		if dept, err = strconv.ParseInt(v, 10, 64); err != nil || dept <= 0 {
			h.render(w, http.StatusBadRequest, "notice.html", noticeView{Title: "科室参数有误", Message: "地址中的 dept 应为科室编号，例如 /queue/board?dept=3。"})
			return
		}
	}
	if dept == 0 {
		h.render(w, http.StatusBadRequest, "notice.html", noticeView{Title: "请选择科室", Message: "在地址后加上科室编号，例如 /queue/board?dept=3。"})
		return
	}
	h.render(w, http.StatusOK, "board.html", boardView{DeptID: dept})
}

// displayPage is the waiting-room board opened by a display link: no
// session, the token in the address is the screen's whole authority (the
// board's JSON checks it on every refresh, so a revoked link goes blank
// within seconds). The address is kept out of any Referer.
func (h *Handler) displayPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if len(token) < 20 || len(token) > 64 || strings.Trim(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		h.render(w, http.StatusNotFound, "notice.html", noticeView{Title: "大屏链接无效", Message: "请在前台工作台重新生成候诊大屏链接。"})
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.render(w, http.StatusOK, "board.html", boardView{Token: token})
}

// padPage is the therapist's tablet workstation, for a clinician account
// bound to a staff record (the API refuses anyone else the same way).
func (h *Handler) padPage(w http.ResponseWriter, r *http.Request) {
	a, err := h.session(r)
	if err != nil {
		http.Redirect(w, r, "/dash/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if !PadPage.Action.Allows(a) || a.StaffID == 0 {
		h.render(w, http.StatusForbidden, "notice.html", noticeView{Title: "无权打开治疗工作站",
			Message: "治疗工作站由绑定了医护人员档案的治疗师账号打开；前台请使用叫号与签到页面。"})
		return
	}
	h.render(w, http.StatusOK, "pad.html", nil)
}

// deskPage is the front desk's workstation, for policy.WorkTheDay: the roles
// the API's /desk answers (the department manager for 停诊).
func (h *Handler) deskPage(w http.ResponseWriter, r *http.Request) {
	a, err := h.session(r)
	if err != nil {
		http.Redirect(w, r, "/dash/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if !DeskPage.Action.Allows(a) {
		h.render(w, http.StatusForbidden, "notice.html", noticeView{Title: "无权打开前台工作台", Message: "前台工作台由前台、治疗师或科室主任的账号打开。"})
		return
	}
	h.render(w, http.StatusOK, "desk.html", nil)
}
