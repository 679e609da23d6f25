package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/zhiliao/zhiliao/access"
	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// sessionCookie carries the token for the pages; the API also takes it as a
// bearer token.
const sessionCookie = "zhiliao_session"

// bearer returns the request's token and whether it came from the cookie
// (and so needs CSRF proof on writes) rather than the Authorization header.
func bearer(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(h, "Bearer ")), false
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value, true
	}
	return "", false
}

// csrfHeader carries the session's CSRF token on cookie-authenticated
// writes. A page reads the token from /api/v1/me; a page of another origin
// can neither read it (the cookie is HttpOnly, the answer same-origin) nor
// send the header without a CORS preflight this server never grants.
const csrfHeader = "X-CSRF-Token"

// csrfToken is derived from the session token, so it needs no storage and
// dies with the session.
func csrfToken(session string) string {
	h := sha256.Sum256([]byte("zhiliao-csrf\x00" + session))
	return base64.RawURLEncoding.EncodeToString(h[:24])
}

// sameOrigin reports whether the request's Origin, or failing that its
// Referer, names this host.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" || src == "null" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return false
	}
	u, err := url.Parse(src)
	return err == nil && u.Host != "" && u.Host == r.Host
}

// mustChangeAllowed are the routes an account whose password was reset may
// still use.
var mustChangeAllowed = map[string]bool{"/api/v1/auth/password": true, "/api/v1/auth/logout": true, "/api/v1/me": true}

// authenticate resolves the token to an actor in the request context and
// refuses roles the route does not allow, cookie-authenticated writes
// without same-origin proof, and anything but a password change from an
// account that must change its password.
func (s *Server) authenticate(rt route) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, fromCookie := bearer(r)
			if token == "" {
				writeError(w, r, model.Errorf(model.EUNAUTHORIZED, "请先登录 (authentication required)"))
				return
			}
			if fromCookie && !safeMethod(r.Method) {
				if !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(csrfToken(token))) != 1 {
					writeError(w, r, model.Errorf(model.ECSRF, "跨站请求被拒绝：需同源页面并携带 %s (cross-site request refused)", csrfHeader))
					return
				}
			}
			a, err := s.Backend.Authenticate(r.Context(), token)
			if err != nil {
				writeError(w, r, err)
				return
			}
			if !rt.Action.Allows(a) {
				writeError(w, r, model.Errorf(model.EFORBIDDEN, "角色 %s 无权执行此操作 (role not allowed)", a.Role))
				return
			}
			if a.MustChangePassword && !mustChangeAllowed[rt.Pattern] {
				writeError(w, r, model.Errorf(model.EPWCHANGE, "密码已被重置，请先修改密码 (change your password first: POST /api/v1/auth/password)"))
				return
			}
			next.ServeHTTP(w, r.WithContext(model.WithActor(r.Context(), a)))
		})
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// clientAddr is the request's client address, proxies resolved.
func (s *Server) clientAddr(r *http.Request) string { return s.Clients.Addr(r) }

// withRequest adds the request's origin to ctx for the store's own audit lines.
func (s *Server) withRequest(r *http.Request, route string) context.Context {
	return model.WithRequest(r.Context(), model.RequestInfo{Route: route, ID: middleware.GetReqID(r.Context()), Remote: s.clientAddr(r)})
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string      `json:"token"`
	CSRFToken string      `json:"csrf_token"`
	ExpiresAt time.Time   `json:"expires_at"`
	User      *model.User `json:"user"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if !s.Throttle.Allow(w, r, req.Username) {
		ctx := model.WithActor(s.withRequest(r, "POST /api/v1/auth/login"), model.Actor{Username: truncate(req.Username, 64), Role: "unknown"})
		s.Backend.Audit(ctx, model.AuditEntry{Action: "login_throttled", Route: "POST /api/v1/auth/login", Entity: "user",
			Status: http.StatusTooManyRequests, RequestID: middleware.GetReqID(r.Context()), Remote: s.clientAddr(r)})
		writeError(w, r, &model.Error{Code: model.ERATELIMIT, Message: "登录尝试过于频繁，请稍后再试 (too many login attempts)"})
		return
	}
	token, u, exp, err := s.Backend.Login(s.withRequest(r, "POST /api/v1/auth/login"), req.Username, req.Password)
	if err != nil {
		if c := model.ErrorCode(err); c == model.EUNAUTHORIZED || c == model.EFORBIDDEN {
			s.Throttle.Failed(r, req.Username)
		}
		writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: exp, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: access.SecureCookie(r)})
	writeJSON(w, http.StatusOK, loginResponse{Token: token, CSRFToken: csrfToken(token), ExpiresAt: exp, User: u})
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	token, _ := bearer(r)
	if err := s.Backend.Logout(r.Context(), token); err != nil {
		writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

type meResponse struct {
	User      *model.User `json:"user,omitempty"`
	Role      string      `json:"role"`
	Scope     string      `json:"scope"`
	CSRFToken string      `json:"csrf_token"` // send as X-CSRF-Token on cookie-authenticated writes
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	a := model.ActorFrom(r.Context())
	token, _ := bearer(r)
	resp := meResponse{Role: a.Role, Scope: "institution", CSRFToken: csrfToken(token)}
	if policy.DeptBound(a) {
		resp.Scope = "department"
	}
	if policy.PatientSelf.Allows(a) {
		resp.Scope = "self"
	} else {
		u, err := s.Backend.User(r.Context(), a.UserID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		resp.User = u
	}
	writeJSON(w, http.StatusOK, resp)
}
