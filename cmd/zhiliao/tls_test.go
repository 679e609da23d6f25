package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zhiliao test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeTLS: with --tls-cert/--tls-key the main port speaks HTTPS only
// and the session cookie is Secure; behind a proxy (--external-url
// https://…) the cookie is Secure over plain HTTP too. Without either it is
// not (access.TestSecureCookie checks the same rule on one handler).
func TestServeTLS(t *testing.T) {
	data := pilotData(t)
	certFile, keyFile, pool := selfSigned(t)
	for _, tc := range []struct {
		name         string
		tls          bool
		external     string
		secureCookie bool
	}{{"tls", true, "", true}, {"proxy", false, "https://zhiliao.example.org", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			m := &Main{Addr: "127.0.0.1:0", Demo: true, Seed: 1, Stdout: &stdout, Stderr: &stderr, ExternalURL: tc.external,
				ETL: etlFlags{incremental: "@every 1h", full: "0 2 * * *"}}
			if tc.tls {
				m.TLSCert, m.TLSKey = certFile, keyFile
			}
			m.Common = common{data: data, logLevel: "error"}
			ctx, cancel := context.WithCancel(context.Background())
			if err := m.Open(ctx); err != nil {
				cancel()
				t.Fatalf("open: %v\n%s", err, stderr.String())
			}
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			defer func() { cancel(); <-done; m.Close() }()
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			if tc.tls {
				if !strings.HasPrefix(m.URL(), "https://") {
					t.Fatalf("URL %s", m.URL())
				}
				// Go's server answers plain HTTP on a TLS port with a 400:
				// no page is served in clear.
				if resp, err := http.Get(strings.Replace(m.URL(), "https://", "http://", 1) + "/healthz"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						t.Error("the TLS port served plain HTTP")
					}
				}
			}
			resp, err := client.Post(m.URL()+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"admin","password":"`+demoPassword+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || len(resp.Cookies()) == 0 {
				t.Fatalf("login %d", resp.StatusCode)
			}
			for _, c := range resp.Cookies() {
				if c.Secure != tc.secureCookie {
					t.Errorf("cookie %s Secure=%v, want %v", c.Name, c.Secure, tc.secureCookie)
				}
			}
		})
	}
}
