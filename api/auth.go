package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/httprate"

	"github.com/zhiliao/zhiliao/model"
)

// sessionCookie carries the token for the pages; the API also takes it as a
// bearer token.
const sessionCookie = "zhiliao_session"

func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// authenticate resolves the token to an actor in the request context and
// refuses roles the route does not allow.
func (s *Server) authenticate(roles []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token := bearer(r)
			if token == "" {
				writeError(w, r, model.Errorf(model.EUNAUTHORIZED, "请先登录 (authentication required)"))
				return
			}
			a, err := s.Backend.Authenticate(r.Context(), token)
			if err != nil {
				writeError(w, r, err)
				return
			}
			allowed := false
			for _, role := range roles {
				allowed = allowed || role == a.Role
			}
			if !allowed {
				writeError(w, r, model.Errorf(model.EFORBIDDEN, "角色 %s 无权执行此操作 (role not allowed)", a.Role))
				return
			}
			next.ServeHTTP(w, r.WithContext(model.WithActor(r.Context(), a)))
		})
	}
}

// loginLimiter allows a burst of attempts per client address, then 429.
func loginLimiter(perMinute int) func(http.Handler) http.Handler {
	return httprate.Limit(perMinute, time.Minute, httprate.WithKeyFuncs(httprate.KeyByIP),
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, &model.Error{Code: model.ERATELIMIT, Message: "登录尝试过于频繁，请稍后再试 (too many login attempts)"})
		}))
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type loginResponse struct {
	Token     string      `json:"token"`
	ExpiresAt time.Time   `json:"expires_at"`
	User      *model.User `json:"user"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	token, u, exp, err := s.Backend.Login(r.Context(), req.Username, req.Password)
	if err != nil {
		writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: exp, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	ctx := model.WithActor(r.Context(), model.ActorOf(u))
	s.audit(r.WithContext(ctx), "login", "user", u.ID, http.StatusOK, "")
	writeJSON(w, http.StatusOK, loginResponse{Token: token, ExpiresAt: exp, User: u})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.Backend.Logout(r.Context(), bearer(r)); err != nil {
		writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

type meResponse struct {
	User  *model.User `json:"user,omitempty"`
	Role  string      `json:"role"`
	Scope string      `json:"scope"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	a := model.ActorFrom(r.Context())
	resp := meResponse{Role: a.Role, Scope: "institution"}
	if a.DeptBound() {
		resp.Scope = "department"
	}
	if a.Role == model.RolePatient {
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
