package api

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzPatientLinkURL: whatever the desk's page sends, a URL accepted for a
// QR code is a /p/ link of the host the request came to, and nothing else.
func FuzzPatientLinkURL(f *testing.F) {
	for _, s := range []string{"http://h:1/p/abc", "https://h:1/p/abc?x=1", "http://evil/p/abc", "javascript:alert(1)", "http://h:1/dash/", "http://u@h:1/p/a", "//h:1/p/a", "http://h:1/p/../dash"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := patientLinkURL(raw, "h:1")
		if err != nil {
			return
		}
		again, perr := url.Parse(u.String())
		if perr != nil || again.Host != "h:1" || !strings.HasPrefix(again.Path, "/p/") || again.RawQuery != "" || again.User != nil ||
			(again.Scheme != "http" && again.Scheme != "https") {
			t.Fatalf("accepted %q as %q", raw, u.String())
		}
	})
}
