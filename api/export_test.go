package api

// RouteInfo exposes the route table to the external tests.
type RouteInfo struct {
	Method, Pattern string
	Roles           []string
}

func (s *Server) RouteTable() []RouteInfo {
	var out []RouteInfo
	for _, r := range s.routes() {
		out = append(out, RouteInfo{r.Method, r.Pattern, r.Roles})
	}
	return out
}
