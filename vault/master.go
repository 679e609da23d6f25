package vault

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// masterHeader starts every master key file: a file of another kind is
// refused by name rather than read as key bytes.
const masterHeader = "zhiliao-master-key v1"

// ErrMasterKey is a master key file that is missing, malformed, or does not
// open the keys it is asked to.
var ErrMasterKey = errors.New("master key")

// Master is the key-encryption key loaded from a key file.
type Master struct {
	aead cipher.AEAD
	// Fingerprint names the key without revealing it (the first 16 hex
	// digits of an HMAC-SM3 of a fixed label): wrapped keys record it so a
	// wrong file is named as such, not reported as corruption.
	Fingerprint string
}

// CreateMasterFile writes a new random master key to path (mode 0600). It
// never overwrites: losing the old key would make every sealed value
// unreadable.
func CreateMasterFile(path string) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMasterKey, err)
	}
	_, err = fmt.Fprintf(f, "%s\n%s\n", masterHeader, hex.EncodeToString(key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LoadMaster reads a master key file.
func LoadMaster(path string) (*Master, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: 无法读取主密钥文件 %s (cannot read the key file): %v", ErrMasterKey, path, err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 3 || lines[0]+" "+lines[1] != masterHeader {
		return nil, fmt.Errorf("%w: %s 不是主密钥文件 (not a zhiliao master key file)", ErrMasterKey, path)
	}
	key, err := hex.DecodeString(lines[2])
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: %s 的密钥格式错误 (malformed key)", ErrMasterKey, path)
	}
	return NewMaster(key)
}

// NewMaster makes a master key of 32 bytes: the key-encryption key is
// derived from them with HMAC-SM3, as is the fingerprint.
func NewMaster(key []byte) (*Master, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: want 32 bytes, have %d", ErrMasterKey, len(key))
	}
	kek := derive(key, "zhiliao kek v1")[:16]
	aead, err := gcm(kek)
	if err != nil {
		return nil, err
	}
	return &Master{aead: aead, Fingerprint: hex.EncodeToString(derive(key, "zhiliao fingerprint v1"))[:16]}, nil
}

// Wrap seals a key under the master key; label (what the key is for) is
// bound as associated data, so a wrapped key cannot be moved to another use.
func (m *Master) Wrap(key []byte, label string) []byte {
	return seal(m.aead, key, []byte(label))
}

// Unwrap opens a wrapped key.
func (m *Master) Unwrap(wrapped []byte, label string) ([]byte, error) {
	key, err := open(m.aead, wrapped, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("%w: 密钥 %s 无法用此主密钥解开 (the master key does not open it)", ErrMasterKey, label)
	}
	return key, nil
}

func derive(key []byte, label string) []byte {
	h := hmac.New(sm3.New, key)
	h.Write([]byte(label))
	return h.Sum(nil)
}

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal returns nonce ‖ ciphertext ‖ tag.
func seal(aead cipher.AEAD, plain, ad []byte) []byte {
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		panic(err) // crypto/rand does not fail on a supported system
	}
	return aead.Seal(out, out, plain, ad)
}

func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("ciphertext too short")
	}
	n := aead.NonceSize()
	return aead.Open(nil, sealed[:n], sealed[n:], ad)
}
