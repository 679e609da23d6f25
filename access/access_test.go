package access

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// TestClientAddr: X-Forwarded-For is believed only from a trusted proxy,
// read from the right, skipping trusted hops; a malformed chain falls back
// to the peer.
func TestClientAddr(t *testing.T) {
	c, err := ParseTrusted("10.0.0.0/8, 127.0.0.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ peer, xff, want string }{
		{"203.0.113.5:4000", "1.2.3.4", "203.0.113.5"},                       // untrusted peer: the header is ignored
		{"127.0.0.1:4000", "", "127.0.0.1"},                                  // trusted peer, no header
		{"127.0.0.1:4000", "198.51.100.7", "198.51.100.7"},                   // one proxy
		{"10.1.2.3:4000", "6.6.6.6, 198.51.100.7, 10.9.9.9", "198.51.100.7"}, // the client wrote 6.6.6.6 itself
		{"10.1.2.3:4000", "10.0.0.1, 10.0.0.2", "10.1.2.3"},                  // every hop trusted
		{"10.1.2.3:4000", "not-an-ip", "10.1.2.3"},                           // malformed
		{"[::1]:4000", "2001:db8::1", "2001:db8::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := c.Addr(r); got != tc.want {
			t.Errorf("peer %s, XFF %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
	var none *Clients
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if got := none.Addr(r); got != "127.0.0.1" {
		t.Errorf("no trusted proxies: %s", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.org", "10.0.0"} {
		if _, err := ParseTrusted(bad); err == nil {
			t.Errorf("ParseTrusted(%q) accepted", bad)
		}
	}
}

// TestLoginThrottle: failed logins are counted per address and per account
// (case-insensitive), each stopping its own; successful logins are not
// counted, so a ward's tablets behind one NAT all signing in are not locked out.
func TestLoginThrottle(t *testing.T) {
	th := NewLoginThrottle(&Clients{}, 3, 2)
	req := func(addr string) *http.Request {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = addr + ":1"
		return r
	}
	allowed := func(addr, user string) bool { return th.Allow(httptest.NewRecorder(), req(addr), user) }
	for i := 0; i < 50; i++ { // fifty good logins from one address: allowed, never counted
		if !allowed("192.0.2.9", fmt.Sprintf("nurse%d", i)) {
			t.Fatalf("successful login %d from one address refused", i+1)
		}
	}
	th.Failed(req("192.0.2.1"), "a")
	th.Failed(req("192.0.2.1"), "A")
	if allowed("192.0.2.2", "a") {
		t.Fatal("the account bucket (2 failures, case-insensitive) does not stop a try from another address")
	}
	if !allowed("192.0.2.1", "b") {
		t.Fatal("an address with 2 failures of 3 is stopped")
	}
	th.Failed(req("192.0.2.1"), "b")
	w := httptest.NewRecorder()
	if th.Allow(w, req("192.0.2.1"), "c") || w.Header().Get("Retry-After") == "" {
		t.Fatal("the address bucket (3 failures) does not stop a try at another account, with Retry-After")
	}
	if !allowed("192.0.2.3", "c") {
		t.Fatal("another address at another account is stopped")
	}
}

// TestSecureCookie: a request over TLS, or any request behind
// ForceSecureCookies (serve --external-url https://…), gets Secure cookies;
// a plain request without it does not.
func TestSecureCookie(t *testing.T) {
	var got []bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = append(got, SecureCookie(r)) })
	plain := httptest.NewRequest("GET", "http://zhiliao.example.org/", nil)
	tlsReq := httptest.NewRequest("GET", "https://zhiliao.example.org/", nil) // httptest sets r.TLS for https
	h.ServeHTTP(httptest.NewRecorder(), plain)
	h.ServeHTTP(httptest.NewRecorder(), tlsReq)
	ForceSecureCookies(h).ServeHTTP(httptest.NewRecorder(), plain)
	if want := []bool{false, true, true}; !slices.Equal(got, want) {
		t.Errorf("plain, TLS, behind a TLS proxy: %v, want %v", got, want)
	}
}
