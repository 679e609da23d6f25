// Package access owns who a request comes from and how often it may try to
// log in: the client address (X-Forwarded-For believed only from the
// reverse proxies the hospital names with --trusted-proxy) and one login
// throttle per client address and per account name, shared by the API's
// login and the dashboards' login form. The lockout of an account after
// repeated failures lives with the accounts, in the store, so that it holds
// across restarts and service instances.
package access

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/httprate"
)

// Clients resolves a request's client address.
type Clients struct {
	// Trusted are the networks of the reverse proxies whose
	// X-Forwarded-For is believed. Empty: the header is ignored.
	Trusted []netip.Prefix
}

// ParseTrusted reads a comma-separated list of CIDRs or single addresses.
func ParseTrusted(list string) (*Clients, error) {
	c := &Clients{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %v", f, err)
			}
			f = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %v", f, err)
		}
		c.Trusted = append(c.Trusted, p.Masked())
	}
	return c, nil
}

func (c *Clients) trusted(a netip.Addr) bool {
	if c == nil {
		return false
	}
	for _, p := range c.Trusted {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// Addr is the client's address: the peer's, unless the peer is a trusted
// proxy, in which case the right-most X-Forwarded-For entry that is not a
// trusted proxy (entries left of it could be written by the client).
func (c *Clients) Addr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !c.trusted(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host // a malformed chain: believe only the peer
		}
		if !c.trusted(a) {
			return a.Unmap().String()
		}
	}
	return host
}

// LoginThrottle stops password guessing: it counts failed logins per client
// address and per account name over a sliding minute, and refuses a login
// from an address or at an account that has reached its limit. Successful
// logins are not counted: a ward's tablets behind one NAT (not a trusted
// proxy) all signing in at shift change are not guessing.
type LoginThrottle struct {
	Clients             *Clients
	perAddr, perAccount int
	byAddr, byAccount   *httprate.RateLimiter
}

// NewLoginThrottle allows perAddr failed logins a minute from one client
// address and perAccount at one account name.
func NewLoginThrottle(c *Clients, perAddr, perAccount int) *LoginThrottle {
	// Counters of our own, aligned to the wall clock's minutes, so that a
	// failure is counted in the same window the limiter reads.
	limiter := func(n int) *httprate.RateLimiter {
		return httprate.NewRateLimiter(n, time.Minute, httprate.WithLimitCounter(httprate.NewLocalLimitCounter(time.Minute)))
	}
	return &LoginThrottle{Clients: c, perAddr: perAddr, perAccount: perAccount, byAddr: limiter(perAddr), byAccount: limiter(perAccount)}
}

func (t *LoginThrottle) keys(r *http.Request, username string) (string, string) {
	return "addr:" + t.Clients.Addr(r), "user:" + strings.ToLower(username)
}

// Allow reports whether a login from r's client at username may be tried:
// neither has reached its failed logins of the last minute. It counts
// nothing (Failed does); when it refuses, Retry-After is set on w.
func (t *LoginThrottle) Allow(w http.ResponseWriter, r *http.Request, username string) bool {
	if t == nil {
		return true
	}
	addr, user := t.keys(r, username)
	for _, c := range []struct {
		l   *httprate.RateLimiter
		key string
		max int
	}{{t.byAddr, addr, t.perAddr}, {t.byAccount, user, t.perAccount}} {
		if _, rate, err := c.l.Status(c.key); err == nil && rate >= float64(c.max) {
			w.Header().Set("Retry-After", "60")
			return false
		}
	}
	return true
}

// Failed counts one failed login from r's client at username.
func (t *LoginThrottle) Failed(r *http.Request, username string) {
	if t == nil {
		return
	}
	addr, user := t.keys(r, username)
	window := time.Now().UTC().Truncate(time.Minute)
	t.byAddr.Counter().Increment(addr, window)
	t.byAccount.Counter().Increment(user, window)
}

// FormFromSameOrigin says whether a form post may come from this site: the
// Origin the browser sends, when it sends one, names this host. The session
// cookies are SameSite=Strict as well; this covers browsers that ignore it.
func FormFromSameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

type secureKey struct{}

// ForceSecureCookies marks every request as reached over HTTPS, for a
// service behind a proxy that ends TLS (serve --external-url https://…):
// SecureCookie then says true, and no cookie travels in clear to a browser
// that was told the site is https.
func ForceSecureCookies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), secureKey{}, true)))
	})
}

// SecureCookie says whether a cookie set in answer to r must be Secure: the
// request came over TLS, or the service is published over https.
func SecureCookie(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(secureKey{}) != nil
}
