package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/policy"
)

// Idempotent writes. A page that loses its connection while a form is being
// saved cannot know whether the write committed; it sends the form again
// with the same Idempotency-Key header (one key per filled form, kept with
// the draft in sessionStorage). The store commits the key's claim in the
// write's own transaction (store/idempotency.go), so the second request is
// answered with the first one's response and writes nothing. A key is the
// caller's alone (scoped to the account or the patient's link session) and
// names one request: the same key with another body is refused.

// idempotencyKeyPattern is what a key may be: a UUID or any token of the
// same alphabet, long enough not to collide by accident.
var idempotencyKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{16,128}$`)

// maxIdempotentBody bounds the body read ahead of the handler to hash it:
// the largest JSON body a write route accepts.
const maxIdempotentBody = maxBody

// idempotent wraps a write route. It runs inside auditMiddleware, whose
// pending audit line carries the claim to the store.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		p := model.PendingAuditFrom(r.Context())
		// Uploads are left out: their scope is checked before their body is
		// read (a refused 20 MiB photo costs nothing), and hashing would read
		// it first; a browser's resent form also has a new multipart boundary.
		if key == "" || p == nil || strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			next.ServeHTTP(w, r)
			return
		}
		if !idempotencyKeyPattern.MatchString(key) {
			writeError(w, r, model.Invalid("Idempotency-Key", "Idempotency-Key 须为 16–128 位字母、数字或 _.:- (a UUID will do)"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxIdempotentBody))
		if err != nil {
			writeError(w, r, model.Errorf(model.ETOOLARGE, "请求体过大或读取失败 (body too large or unreadable): %v", err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h := sha256.New()
		fmt.Fprintf(h, "%s %s?%s\n", r.Method, r.URL.Path, r.URL.RawQuery)
		h.Write(body)
		claim := &model.IdempotencyClaim{Principal: principalOf(model.ActorFrom(r.Context())), Key: key,
			RequestHash: hex.EncodeToString(h.Sum(nil)), Route: r.Method + " " + r.URL.Path}
		if s.replayed(w, r, claim) {
			return
		}
		p.Claim = claim
		rec := &recordedResponse{header: http.Header{}}
		next.ServeHTTP(rec, r)
		if p.Committed {
			// Recorded before it is sent, so a resubmission that overtakes
			// this response still finds it.
			if err := s.Backend.RecordIdempotentResponse(context.WithoutCancel(r.Context()), claim.Principal, key, rec.statusOrOK(), rec.body.Bytes()); err != nil {
				s.Logger.Error("idempotency: response not recorded", "err", err, "route", claim.Route)
			}
		}
		rec.sendTo(w)
	})
}

// replayed answers a request whose key the core already holds, and reports
// whether it did.
func (s *Server) replayed(w http.ResponseWriter, r *http.Request, c *model.IdempotencyClaim) bool {
	prior, err := s.Backend.IdempotentResult(r.Context(), c.Principal, c.Key)
	// A claim without its response is a write that committed moments ago
	// and whose request is recording its response now (a resubmission that
	// overtook the first answer), or one whose process stopped in between.
	// Wait for the first; past the wait, say the outcome is unknown.
	wait := time.Duration(cmp.Or(s.ReplayWait.Load(), int64(3*time.Second)))
	for pause, deadline := 10*time.Millisecond, time.Now().Add(wait); err == nil && prior != nil && prior.Status == 0 && time.Now().Before(deadline); pause = min(2*pause, 200*time.Millisecond) {
		select {
		case <-time.After(pause):
		case <-r.Context().Done():
			return true
		}
		prior, err = s.Backend.IdempotentResult(r.Context(), c.Principal, c.Key)
	}
	switch {
	case err != nil:
		writeError(w, r, err)
	case prior == nil:
		return false
	case prior.RequestHash != c.RequestHash:
		writeError(w, r, model.Conflict("idempotency.key_reused", "该 Idempotency-Key 已用于另一个请求 (the key was used for a different request)"))
	case prior.Status == 0:
		writeError(w, r, model.Conflict("idempotency.outcome_unknown", "该请求已提交，但未能记录结果，请刷新页面查看 (the write committed; its response was not recorded)"))
	default:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(prior.Status)
		w.Write(prior.Body)
	}
	return true
}

// principalOf is whose keys a request's belong to.
func principalOf(a model.Actor) string {
	if policy.PatientSelf.Allows(a) {
		return fmt.Sprintf("patient:%d", a.PatientID)
	}
	return fmt.Sprintf("user:%d", a.UserID)
}

// recordedResponse holds a write's response until its key is recorded.
type recordedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (rr *recordedResponse) Header() http.Header { return rr.header }

func (rr *recordedResponse) WriteHeader(code int) {
	if rr.status == 0 {
		rr.status = code
	}
}

func (rr *recordedResponse) Write(b []byte) (int, error) {
	rr.WriteHeader(http.StatusOK)
	return rr.body.Write(b)
}

func (rr *recordedResponse) statusOrOK() int {
	if rr.status == 0 {
		return http.StatusOK
	}
	return rr.status
}

func (rr *recordedResponse) sendTo(w http.ResponseWriter) {
	for k, v := range rr.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rr.statusOrOK())
	w.Write(rr.body.Bytes())
}
