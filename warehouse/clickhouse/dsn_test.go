package clickhouse_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zhiliao/zhiliao/warehouse/clickhouse"
	"github.com/zhiliao/zhiliao/warehouse/warehousetest"
)

// TestParseDSNTLS: secure=true asks for TLS; ca_file adds the hospital's
// CA to it; a bad value or file is refused by name, the password never
// echoed.
func TestParseDSNTLS(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hospital CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)

	if opt, err := clickhouse.ParseDSN("clickhouse://h:9000/db"); err != nil || opt.TLS != nil {
		t.Errorf("plain: %v %v", opt.TLS, err)
	}
	if opt, err := clickhouse.ParseDSN("clickhouse://h:9440/db?secure=true"); err != nil || opt.TLS == nil || opt.TLS.RootCAs != nil {
		t.Errorf("secure: %v", err)
	}
	opt, err := clickhouse.ParseDSN("clickhouse://u:secret@h:9440/db?secure=true&ca_file=" + ca)
	if err != nil || opt.TLS == nil || opt.TLS.RootCAs == nil || opt.Auth.Password != "secret" {
		t.Fatalf("secure with a CA: %v", err)
	}
	for _, dsn := range []string{"clickhouse://u:secret@h:9440/db?secure=maybe", "clickhouse://u:secret@h:9440/db?ca_file=" + ca,
		"clickhouse://u:secret@h:9440/db?secure=true&ca_file=" + junk, "clickhouse://u:secret@h:9440/db?secure=true&ca_file=/nonexistent"} {
		_, err := clickhouse.ParseDSN(dsn)
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v", dsn, err)
		}
	}
}

// TestSecureServer: a ClickHouse server of its own with a secure TCP port
// (its certificate signed by nobody the system trusts): secure=true with
// the certificate as ca_file connects and serves the warehouse; without the
// CA the connection is refused, never made in clear.
func TestSecureServer(t *testing.T) {
	warehousetest.ClickHouseAddr(t) // skips, or fails in CI, on a machine without ClickHouse
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crt, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	srv := filepath.Join(dir, "server")
	port := warehousetest.FreePorts(t, 6)
	os.MkdirAll(filepath.Join(srv, "config.d"), 0o755)
	os.WriteFile(filepath.Join(srv, "config.d", "tls.xml"), []byte(fmt.Sprintf(`<yandex>
  <tcp_port_secure>%d</tcp_port_secure>
  <openSSL><server><certificateFile>%s</certificateFile><privateKeyFile>%s</privateKeyFile><dhParamsFile></dhParamsFile></server></openSSL>
</yandex>`, port+5, crt, keyFile)), 0o600)
	if out, err := exec.Command("../../scripts/clickhouse-test-server", "start", srv, fmt.Sprint(port)).CombinedOutput(); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("../../scripts/clickhouse-test-server", "stop", srv).Run() })
	ctx := context.Background()
	wh, err := clickhouse.Open(ctx, fmt.Sprintf("clickhouse://127.0.0.1:%d/zhiliao?secure=true&ca_file=%s", port+5, crt))
	if err != nil {
		t.Fatalf("secure with the CA: %v", err)
	}
	if _, err := wh.HighWaters(ctx); err != nil {
		t.Errorf("a read over TLS: %v", err)
	}
	wh.Close()
	if _, err := clickhouse.Open(ctx, fmt.Sprintf("clickhouse://127.0.0.1:%d/zhiliao?secure=true", port+5)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("secure without the CA: %v", err)
	}
}
