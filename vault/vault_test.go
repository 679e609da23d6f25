package vault_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	"github.com/zhiliao/zhiliao/vault"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Known answers of the standards, as the library's own tests and the
// standards' appendices publish them: the primitives the vault is built on
// are the national algorithms, not something that only round-trips.
func TestKnownAnswers(t *testing.T) {
	// GB/T 32905-2016 appendix A, example 1: SM3("abc").
	h := sm3.Sum([]byte("abc"))
	if got := hex.EncodeToString(h[:]); got != "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0" {
		t.Errorf("SM3(abc) = %s", got)
	}
	// GB/T 32907-2016 appendix A, example 1: one block.
	block, err := sm4.NewCipher(unhex(t, "0123456789abcdeffedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 16)
	block.Encrypt(out, unhex(t, "0123456789abcdeffedcba9876543210"))
	if got := hex.EncodeToString(out); got != "681edf34d206965e86b3e94f536e4246" {
		t.Errorf("SM4 = %s", got)
	}
	// GM/T 0003.5-2012 (GB/T 32918.2) signature example on the recommended
	// curve: message "message digest", user id 1234567812345678.
	x, _ := new(big.Int).SetString("09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020", 16)
	y, _ := new(big.Int).SetString("CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13", 16)
	r, _ := new(big.Int).SetString("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3", 16)
	s, _ := new(big.Int).SetString("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA", 16)
	//lint:ignore SA1019 the standard gives its test key as coordinates; gmsm v0.15.5 takes SM2 keys as ecdsa.PublicKey
	pub := &ecdsa.PublicKey{Curve: sm2.P256(), X: x, Y: y}
	za, err := sm2.CalculateZA(pub, []byte("1234567812345678"))
	if err != nil {
		t.Fatal(err)
	}
	e := sm3.Sum(append(za, "message digest"...))
	if !sm2.Verify(pub, e[:], r, s) {
		t.Error("the standard's SM2 signature does not verify")
	}
	if sm2.Verify(pub, e[:], r, new(big.Int).Add(s, big.NewInt(1))) {
		t.Error("an altered SM2 signature verifies")
	}
}

func master(t *testing.T) (*vault.Master, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := vault.CreateMasterFile(path); err != nil {
		t.Fatal(err)
	}
	m, err := vault.LoadMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	return m, path
}

func TestMasterFile(t *testing.T) {
	m, path := master(t)
	if err := vault.CreateMasterFile(path); err == nil {
		t.Error("a second init overwrote the master key")
	}
	again, err := vault.LoadMaster(path)
	if err != nil || again.Fingerprint != m.Fingerprint {
		t.Fatalf("reloaded: %v %v", again, err)
	}
	for name, body := range map[string]string{"empty": "", "other": "hello\n", "short": "zhiliao-master-key v1\nabcd\n", "nothex": "zhiliao-master-key v1\n" + strings.Repeat("zz", 32) + "\n"} {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := vault.LoadMaster(p); !errors.Is(err, vault.ErrMasterKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := vault.LoadMaster(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, vault.ErrMasterKey) {
		t.Errorf("missing: %v", err)
	}
}

func TestKeyring(t *testing.T) {
	m, _ := master(t)
	keys := vault.NewKeys(m)
	k, err := vault.Open(m, keys, "d1")
	if err != nil {
		t.Fatal(err)
	}
	id := "11010519491231002X"
	sealed := k.Seal("id_number", id)
	if !vault.IsSealed(sealed) || strings.Contains(sealed, id) || vault.KeyOf(sealed) != "d1" {
		t.Fatalf("sealed %q", sealed)
	}
	if sealed == k.Seal("id_number", id) {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	if got, err := k.Open("id_number", sealed); err != nil || got != id {
		t.Errorf("open: %q %v", got, err)
	}
	if _, err := k.Open("phone", sealed); !errors.Is(err, vault.ErrCorrupt) {
		t.Errorf("a ciphertext moved to another column opened: %v", err)
	}
	b := []byte(sealed)
	b[len(b)-3] ^= 1
	if _, err := k.Open("id_number", string(b)); !errors.Is(err, vault.ErrCorrupt) {
		t.Errorf("altered ciphertext: %v", err)
	}
	if got, _ := k.Open("phone", "13800000000"); got != "13800000000" {
		t.Error("a clear value (not yet migrated) did not pass through")
	}
	if k.Seal("phone", "") != "" || k.BlindIndex("phone", "") != "" {
		t.Error("empty value sealed")
	}
	if k.BlindIndex("id_number", id) != k.BlindIndex("id_number", " 11010519491231002x") || k.BlindIndex("id_number", id) == k.BlindIndex("phone", id) {
		t.Error("blind index not normalised, or not bound to its column")
	}
	// Another core's keys: other tokens for the same person.
	other, _ := vault.Open(m, vault.NewKeys(m), "d1")
	if other.Pseudonym(id) == k.Pseudonym(id) || k.Pseudonym(id) != k.Pseudonym(strings.ToLower(id)) {
		t.Error("pseudonym not keyed, or not stable")
	}

	// Master key rotation: the same keys, wrapped by the new master key;
	// the old file no longer opens them.
	m2, _ := master(t)
	rewrapped, err := vault.Rewrap(m, m2, keys)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := vault.Open(m2, rewrapped, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k2.Open("id_number", sealed); err != nil || got != id || k2.BlindIndex("id_number", id) != k.BlindIndex("id_number", id) {
		t.Errorf("after rewrap: %q %v", got, err)
	}
	if _, err := vault.Open(m, rewrapped, "d1"); !errors.Is(err, vault.ErrMasterKey) || !strings.Contains(err.Error(), m2.Fingerprint) {
		t.Errorf("old master on rewrapped keys: %v", err)
	}
	// A wrapped key altered in the database: named, not a crash.
	bad := append([]vault.WrappedKey(nil), keys...)
	bad[0].Wrapped = append([]byte(nil), bad[0].Wrapped...)
	bad[0].Wrapped[20] ^= 1
	if _, err := vault.Open(m, bad, "d1"); !errors.Is(err, vault.ErrMasterKey) {
		t.Errorf("altered wrapped key: %v", err)
	}
	// A data key added: old values open, new ones use it.
	keys = append(keys, vault.NewKey(m, "d2", vault.KindData))
	k3, _ := vault.Open(m, keys, "d2")
	if got, err := k3.Open("id_number", sealed); err != nil || got != id || vault.KeyOf(k3.Seal("phone", "1")) != "d2" {
		t.Errorf("second data key: %q %v", got, err)
	}
}

func TestSignatures(t *testing.T) {
	s, der, err := vault.GenerateSM2()
	if err != nil {
		t.Fatal(err)
	}
	msg := vault.Digest("record", "42", "内容")
	sig, err := s.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := vault.ParsePublicKey(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if !vault.Verify(pub, msg, sig) {
		t.Fatal("own signature does not verify")
	}
	if vault.Verify(pub, vault.Digest("record", "42", "内容!"), sig) {
		t.Error("signature verifies altered content")
	}
	if string(vault.Digest("ab", "c")) == string(vault.Digest("a", "bc")) {
		t.Error("digest encoding is ambiguous")
	}
	again, err := vault.ParseSM2(der)
	if err != nil || string(again.PublicKey()) != string(s.PublicKey()) {
		t.Errorf("reparsed key: %v", err)
	}
	if _, err := vault.ParsePublicKey([]byte("junk")); err == nil {
		t.Error("junk public key parsed")
	}
}

// BenchmarkSM2Verify is the floor of `records verify`: one SM2 verification
// of a record digest, on one core.
//
//	go test ./vault -run '^$' -bench SM2Verify
func BenchmarkSM2Verify(b *testing.B) {
	s, _, err := vault.GenerateSM2()
	if err != nil {
		b.Fatal(err)
	}
	msg := vault.Digest("record", "42", "内容")
	sig, _ := s.Sign(msg)
	pub, _ := vault.ParsePublicKey(s.PublicKey())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !vault.Verify(pub, msg, sig) {
			b.Fatal("does not verify")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkP256VerifyReference is the Go standard library's ECDSA P-256
// verification, the most optimised elliptic-curve verification this machine
// runs: the reference that tells SM2's cost here from the machine's.
func BenchmarkP256VerifyReference(b *testing.B) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte("record"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, h[:])
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			b.Fatal("does not verify")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkSM2VerifyParallel runs SM2 verification on every core at once:
// against BenchmarkSM2Verify it says how far the machine's cores scale.
func BenchmarkSM2VerifyParallel(b *testing.B) {
	s, _, err := vault.GenerateSM2()
	if err != nil {
		b.Fatal(err)
	}
	msg := vault.Digest("record", "42", "内容")
	sig, _ := s.Sign(msg)
	pub, _ := vault.ParsePublicKey(s.PublicKey())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !vault.Verify(pub, msg, sig) {
				b.Error("does not verify")
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}
