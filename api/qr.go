package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/zhiliao/zhiliao/model"
	"github.com/zhiliao/zhiliao/qrsvg"
)

// qrCode draws the QR code of a patient's phone link on this service
// (GET /api/v1/qr?url=…): only a /p/ link of the host the request came to,
// so the endpoint is no general-purpose code maker for whatever a page
// would like to put on paper.
func (s *Server) qrCode(w http.ResponseWriter, r *http.Request) {
	if err := knownParams(r, "url"); err != nil {
		writeError(w, r, err)
		return
	}
	u, err := patientLinkURL(r.URL.Query().Get("url"), r.Host)
	if err != nil {
		writeError(w, r, err)
		return
	}
	svg, err := qrsvg.SVG(u.String())
	if err != nil {
		writeError(w, r, model.Invalid("url", "无法生成二维码：%v", err))
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(svg)
}

// patientLinkURL accepts raw only as a patient's phone link (/p/…) on host,
// over http or https, with nothing else in it.
func patientLinkURL(raw, host string) (*url.URL, error) {
	if raw == "" || len(raw) > 512 {
		return nil, model.Invalid("url", "链接无效 (a URL of at most 512 bytes)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host != host || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/p/") || strings.Contains(u.Path, "/../") || strings.ContainsAny(u.Path, "\\ ") {
		return nil, model.Invalid("url", "只能生成本服务患者手机链接（/p/…）的二维码")
	}
	return u, nil
}
