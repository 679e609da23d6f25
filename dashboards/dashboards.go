// Package dashboards owns the pages department managers, the quality office
// and evaluators open: server-rendered HTML in Chinese, embedded in the
// binary with their scripts, styles and the vendored Apache ECharts build,
// and the login that gives them a cookie session. Pages draw from the
// analytics API with that cookie, so the API's role and department scope
// applies to every chart, table and export; a page refuses a role the API
// would refuse. It imports model only; api mounts it under /dash.
package dashboards

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

//go:embed templates static
var files embed.FS

// Auth is what the pages need from the core's login.
type Auth interface {
	Login(ctx context.Context, username, password string) (string, *model.User, time.Time, error)
	Authenticate(ctx context.Context, token string) (model.Actor, error)
	Logout(ctx context.Context, token string) error
	User(ctx context.Context, id int64) (*model.User, error)
	Audit(ctx context.Context, e model.AuditEntry) error
	ChangePassword(ctx context.Context, current, next string) error
}

// Cookie is the session cookie; the API reads the same one.
const Cookie = "zhiliao_session"

// Handler serves the pages under /dash.
type Handler struct {
	Auth   Auth
	Logger *slog.Logger
	// Throttle is the API's login throttle (per client address and per
	// account), so the form is no side door; Clients resolves addresses.
	Throttle *access.LoginThrottle
	Clients  *access.Clients

	tmpl *template.Template
	mux  *http.ServeMux
}

// New builds the handler.
func New(auth Auth, logger *slog.Logger) *Handler {
	h := &Handler{Auth: auth, Logger: logger.With("component", "dashboards")}
	h.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"json": func(v any) (template.JS, error) {
			b, err := json.Marshal(v)
			return template.JS(b), err
		},
	}).ParseFS(files, "templates/*.html"))
	static, _ := fs.Sub(files, "static")
	h.mux = http.NewServeMux()
	h.mux.Handle("GET /dash/static/", http.StripPrefix("/dash/static/", cacheStatic(http.FileServerFS(static))))
	h.mux.HandleFunc("GET /dash/login", h.loginPage)
	h.mux.HandleFunc("POST /dash/login", h.login)
	h.mux.HandleFunc("POST /dash/logout", h.logout)
	h.mux.HandleFunc("GET /dash/password", h.passwordPage)
	h.mux.HandleFunc("POST /dash/password", h.changePassword)
	h.mux.HandleFunc("GET /dash/{$}", func(w http.ResponseWriter, r *http.Request) { h.page(w, r, "overview") })
	h.mux.HandleFunc("GET /dash/{page}", func(w http.ResponseWriter, r *http.Request) { h.page(w, r, r.PathValue("page")) })
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'")
	h.mux.ServeHTTP(w, r)
}

// cacheStatic lets browsers keep the assets for a day; they change only
// with the binary.
func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}

type loginView struct {
	Error, Next, Username string
}

type passwordView struct {
	Error  string
	Forced bool // the password was reset and must be changed first
}

// session resolves the cookie to its actor; ok is false when the browser
// must log in (it has been redirected).
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (model.Actor, bool) {
	c, err := r.Cookie(Cookie)
	if err == nil {
		if a, err := h.Auth.Authenticate(r.Context(), c.Value); err == nil {
			return a, true
		}
	}
	http.Redirect(w, r, "/dash/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return model.Actor{}, false
}

func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request) {
	a, ok := h.session(w, r)
	if !ok {
		return
	}
	h.render(w, http.StatusOK, "password.html", passwordView{Forced: a.MustChangePassword})
}

// changePassword takes the form: the current password, and the new one
// twice. The store checks the current one and the policy.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	if !access.FormFromSameOrigin(r) {
		http.Error(w, "跨站请求被拒绝 cross-site request refused", http.StatusForbidden)
		return
	}
	a, ok := h.session(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	cur, next, confirm := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("confirm")
	view := passwordView{Forced: a.MustChangePassword}
	if next != confirm {
		view.Error = "两次输入的新密码不一致"
		h.render(w, http.StatusBadRequest, "password.html", view)
		return
	}
	ctx := model.WithActor(r.Context(), a)
	if err := h.Auth.ChangePassword(ctx, cur, next); err != nil {
		view.Error = model.ErrorMessage(err)
		h.render(w, http.StatusBadRequest, "password.html", view)
		return
	}
	if err := h.Auth.Audit(ctx, model.AuditEntry{Action: policy.AuditWrite, Route: "POST /dash/password", Entity: "user",
		EntityID: fmt.Sprint(a.UserID), Status: http.StatusSeeOther, Remote: h.Clients.Addr(r)}); err != nil {
		h.Logger.Error("audit password change", "err", err)
	}
	http.Redirect(w, r, "/dash/", http.StatusSeeOther)
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := h.tmpl.ExecuteTemplate(w, name, data); err != nil {
		h.Logger.Error("render page", "template", name, "err", err)
	}
}

// safeNext keeps a post-login redirect on this service's pages: the
// dashboards, the waiting-room display, the therapist's tablet and the
// front desk.
func safeNext(next string) string {
	if (strings.HasPrefix(next, "/dash/") || strings.HasPrefix(next, "/queue/board") || strings.HasPrefix(next, "/pad/") || strings.HasPrefix(next, "/desk/")) && !strings.HasPrefix(next, "/dash//") && !strings.Contains(next, "\\") {
		return next
	}
	return "/dash/"
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "login.html", loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !access.FormFromSameOrigin(r) {
		http.Error(w, "跨站请求被拒绝 cross-site request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	user, pass, next := r.PostFormValue("username"), r.PostFormValue("password"), safeNext(r.PostFormValue("next"))
	if !h.Throttle.Allow(w, r, user) {
		h.render(w, http.StatusTooManyRequests, "login.html", loginView{Error: "登录尝试过于频繁，请稍后再试", Next: next, Username: user})
		return
	}
	ctx := model.WithRequest(r.Context(), model.RequestInfo{Route: "POST /dash/login", Remote: h.Clients.Addr(r)})
	token, _, _, err := h.Auth.Login(ctx, user, pass) // the store audits every attempt
	if err != nil {
		if c := model.ErrorCode(err); c == model.EUNAUTHORIZED || c == model.EFORBIDDEN {
			h.Throttle.Failed(r, user)
		}
		msg := "用户名或密码错误"
		if model.ErrorCode(err) != model.EUNAUTHORIZED {
			msg = model.ErrorMessage(err)
		}
		h.render(w, http.StatusUnauthorized, "login.html", loginView{Error: msg, Next: next, Username: user})
		return
	}
	// A browser-session cookie: it goes when the browser closes (staff
	// share workstations), and the server ends the session at its own
	// expiry. An Expires from the server's clock would be read on the
	// browser's, and a browser whose clock runs ahead would drop it at once.
	http.SetCookie(w, &http.Cookie{Name: Cookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: access.SecureCookie(r)})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !access.FormFromSameOrigin(r) {
		http.Error(w, "跨站请求被拒绝 cross-site request refused", http.StatusForbidden)
		return
	}
	if c, err := r.Cookie(Cookie); err == nil {
		h.Auth.Logout(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: Cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/dash/login", http.StatusSeeOther)
}

type nav struct {
	Slug, Title string
	Active      bool
}

type pageView struct {
	Page     *Page
	Nav      []nav
	User     string
	Role     string
	Operator bool // may read the ETL run log
	Scope    string
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request, slug string) {
	c, err := r.Cookie(Cookie)
	if err != nil {
		http.Redirect(w, r, "/dash/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	a, err := h.Auth.Authenticate(r.Context(), c.Value)
	if err != nil {
		http.Redirect(w, r, "/dash/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if a.MustChangePassword {
		http.Redirect(w, r, "/dash/password", http.StatusSeeOther)
		return
	}
	p := pageBySlug(slug)
	if p == nil {
		h.render(w, http.StatusNotFound, "error.html", map[string]string{"Title": "页面不存在", "Message": "没有这个页面 (no such page)"})
		return
	}
	if !p.Action.Allows(a) {
		h.render(w, http.StatusForbidden, "error.html", map[string]string{"Title": "无权访问",
			"Message": "您的角色无权查看分析看板 (your role may not open the dashboards)"})
		return
	}
	v := pageView{Page: p, Role: policy.RoleOf(a).Title, Operator: policy.OperateETL.Allows(a), Scope: "全院"}
	if policy.DeptBound(a) {
		v.Scope = "本科室"
	}
	if policy.Regional(a) {
		v.Scope = "全区域"
	}
	if policy.Deidentified(a) {
		v.Scope += "（患者信息已脱敏）"
	}
	v.User = a.Username
	if u, err := h.Auth.User(r.Context(), a.UserID); err == nil && u.DisplayName != "" {
		v.User = u.DisplayName
	}
	for _, q := range Pages {
		if q.Action.Allows(a) {
			v.Nav = append(v.Nav, nav{Slug: q.Slug, Title: q.Title, Active: q.Slug == p.Slug})
		}
	}
	w.Header().Set("Cache-Control", "private, no-store")
	if p.Tool != "" {
		h.render(w, http.StatusOK, "tool.html", v)
		return
	}
	h.render(w, http.StatusOK, "page.html", v)
}
