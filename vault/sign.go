package vault

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// Signer signs for one person or for the service. The built-in signer holds
// an SM2 private key; a hospital's external CA (the seed hospital used one)
// plugs in as another implementation.
type Signer interface {
	// Sign returns an SM2 signature (ASN.1) of msg with the default user id
	// 1234567812345678 (GB/T 35276), as every SM2 verifier expects.
	Sign(msg []byte) ([]byte, error)
	// PublicKey is the signer's public key, PKIX DER.
	PublicKey() []byte
}

// SM2Signer is the built-in Signer.
type SM2Signer struct {
	priv *sm2.PrivateKey
	pub  []byte
}

// GenerateSM2 makes a new key pair; the private key is returned as PKCS#8
// DER, for the caller to wrap and store.
func GenerateSM2() (*SM2Signer, []byte, error) {
	priv, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := smx509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	s, err := ParseSM2(der)
	return s, der, err
}

// ParseSM2 loads a signer from its PKCS#8 private key.
func ParseSM2(der []byte) (*SM2Signer, error) {
	k, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(*sm2.PrivateKey)
	if !ok {
		return nil, errors.New("not an SM2 private key")
	}
	pub, err := smx509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &SM2Signer{priv: priv, pub: pub}, nil
}

// Sign implements Signer.
func (s *SM2Signer) Sign(msg []byte) ([]byte, error) {
	return s.priv.SignWithSM2(rand.Reader, nil, msg)
}

// PublicKey implements Signer.
func (s *SM2Signer) PublicKey() []byte { return s.pub }

// ParsePublicKey reads an SM2 public key (PKIX DER).
func ParsePublicKey(der []byte) (*ecdsa.PublicKey, error) {
	k, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, fmt.Errorf("not an SM2 public key")
	}
	return pub, nil
}

// Verify checks an SM2 signature of msg made with the default user id.
func Verify(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	return sm2.VerifyASN1WithSM2(pub, nil, msg, sig)
}

// Digest is the SM3 digest of a canonical sequence of fields: each field is
// preceded by its length, so no two different sequences share an encoding
// ("ab","c" and "a","bc" differ).
func Digest(fields ...string) []byte {
	h := sm3.New()
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// SM3Hex is the SM3 digest of b in lower-case hex: the form in which a
// signed text's digest is stored, checkable by any SM3 tool (gmssl sm3).
func SM3Hex(b []byte) string {
	sum := sm3.Sum(b)
	return hex.EncodeToString(sum[:])
}
