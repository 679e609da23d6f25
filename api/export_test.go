package api

import (
	"net/http"

	"github.com/zhiliao/zhiliao/policy"
)

// RouteInfo exposes the route table to the external tests.
type RouteInfo struct {
	Method, Pattern string
	Roles           []string
}

func (s *Server) RouteTable() []RouteInfo {
	var out []RouteInfo
	for _, r := range s.routes() {
		out = append(out, RouteInfo{r.Method, r.Pattern, r.Action.Roles})
	}
	return out
}

// AddStaticRoute adds a GET route behind the same middleware, token check
// and role check as the mart routes that answers a pre-serialized body:
// the baseline the mart endpoint benchmark compares with.
func (s *Server) AddStaticRoute(pattern string, body []byte) {
	s.extra = append(s.extra, route{Method: "GET", Pattern: pattern, Action: policy.ReadMarts,
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctJSON)
			w.Write(body)
		}})
}
