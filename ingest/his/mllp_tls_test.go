package his_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/ingest/his"
	"github.com/zhiliao/zhiliao/interop/mllp"
)

// selfSigned makes a certificate for 127.0.0.1 valid for an hour.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zhiliao-mllp-test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestMLLPOverTLS: with a certificate the MLLP listener speaks TLS; a
// client that verifies it is answered, a plain-text client is not.
func TestMLLPOverTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	intake := &his.Intake{}
	serveMLLP(t, &mllp.Server{}, intake) // a core for the intake; its plain listener is not used
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mllp.Server{Handle: intake.Handle}
	go srv.Serve(ctx, tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mllp.WriteFrame(conn, []byte(newOrder))
	ack, err := mllp.ReadFrame(bufio.NewReader(conn), mllp.DefaultMaxFrame)
	if err != nil || !strings.Contains(string(ack), "MSA|A") {
		t.Fatalf("TLS client: %q %v", ack, err)
	}
	plain, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	mllp.WriteFrame(plain, []byte(newOrder))
	plain.SetReadDeadline(time.Now().Add(10 * time.Second))
	if ack, err := mllp.ReadFrame(bufio.NewReader(plain), mllp.DefaultMaxFrame); err == nil {
		t.Fatalf("a plain-text client was answered: %q", ack)
	}
}
