package vault

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/emmansun/gmsm/sm3"
)

// Kinds of wrapped key a core holds.
const (
	KindData      = "data"      // SM4-GCM, seals sensitive columns; rotates (keys reencrypt)
	KindIndex     = "index"     // HMAC-SM3, blind index for exact lookups; never rotates
	KindPseudonym = "pseudonym" // HMAC-SM3, the warehouse's per-person token; never rotates
)

// WrappedKey is one key as the core stores it: wrapped by the master key
// whose fingerprint it records.
type WrappedKey struct {
	ID      string // "d1", "d2", … for data keys; the kind otherwise
	Kind    string
	Wrapped []byte
	Master  string // fingerprint of the master key that wrapped it
}

// NewKey makes a random key of a kind, wrapped by m.
func NewKey(m *Master, id, kind string) WrappedKey {
	key := make([]byte, 16) // SM4 keys are 128 bits; HMAC-SM3 keys as long serve
	if kind != KindData {
		key = make([]byte, 32)
	}
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	return WrappedKey{ID: id, Kind: kind, Wrapped: m.Wrap(key, id), Master: m.Fingerprint}
}

// NewKeys makes the keys of a core that has none: data key d1, the index and
// the pseudonym keys.
func NewKeys(m *Master) []WrappedKey {
	return []WrappedKey{NewKey(m, "d1", KindData), NewKey(m, KindIndex, KindIndex), NewKey(m, KindPseudonym, KindPseudonym)}
}

// Rewrap re-wraps keys from the old master key to the new one: a master key
// rotation, which rewrites no data.
func Rewrap(old, new *Master, keys []WrappedKey) ([]WrappedKey, error) {
	out := make([]WrappedKey, len(keys))
	for i, k := range keys {
		raw, err := unwrap(old, k)
		if err != nil {
			return nil, err
		}
		out[i] = WrappedKey{ID: k.ID, Kind: k.Kind, Wrapped: new.Wrap(raw, k.ID), Master: new.Fingerprint}
	}
	return out, nil
}

func unwrap(m *Master, k WrappedKey) ([]byte, error) {
	if k.Master != m.Fingerprint {
		return nil, fmt.Errorf("%w: 主密钥不符 (this core's keys were wrapped by master key %s; the key file given is %s)", ErrMasterKey, k.Master, m.Fingerprint)
	}
	return m.Unwrap(k.Wrapped, k.ID)
}

// Keyring holds one core's keys, unwrapped, for the life of the process.
type Keyring struct {
	current string
	data    map[string]cipher.AEAD
	index   []byte
	pseudo  []byte
}

// Open unwraps a core's keys; current names the data key that seals new
// values.
func Open(m *Master, keys []WrappedKey, current string) (*Keyring, error) {
	k := &Keyring{current: current, data: map[string]cipher.AEAD{}}
	for _, w := range keys {
		raw, err := unwrap(m, w)
		if err != nil {
			return nil, err
		}
		switch w.Kind {
		case KindData:
			if k.data[w.ID], err = gcm(raw); err != nil {
				return nil, err
			}
		case KindIndex:
			k.index = raw
		case KindPseudonym:
			k.pseudo = raw
		}
	}
	if k.data[current] == nil || k.index == nil || k.pseudo == nil {
		return nil, fmt.Errorf("%w: 密钥不全 (the core lacks data key %q, the index or the pseudonym key)", ErrMasterKey, current)
	}
	return k, nil
}

// Current is the id of the data key that seals new values.
func (k *Keyring) Current() string { return k.current }

// sealedPrefix starts every sealed value: "sm4:<key id>:<base64 of nonce ‖
// ciphertext ‖ tag>". No clear ID number or phone starts with it, so a
// column can hold both while a core is migrated in place.
const sealedPrefix = "sm4:"

// IsSealed reports whether a stored value is sealed.
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

// KeyOf returns the id of the data key that sealed v, "" if v is clear.
func KeyOf(v string) string {
	if !IsSealed(v) {
		return ""
	}
	id, _, _ := strings.Cut(v[len(sealedPrefix):], ":")
	return id
}

// ErrCorrupt is a sealed value that does not open: altered, truncated, or
// sealed under a key the core does not have.
var ErrCorrupt = errors.New("sealed value does not open")

// Seal encrypts a column's value under the current data key; the column's
// name is bound as associated data, so a ciphertext copied into another
// column does not open. The empty string stays empty (nothing to protect,
// and "no phone" stays visible to the data-quality rules).
func (k *Keyring) Seal(column, plain string) string {
	if plain == "" {
		return ""
	}
	b := seal(k.data[k.current], []byte(plain), []byte(column))
	return sealedPrefix + k.current + ":" + base64.RawStdEncoding.EncodeToString(b)
}

// Open decrypts a stored value; a clear one (a row not yet migrated) is
// returned as it is.
func (k *Keyring) Open(column, stored string) (string, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	id, body, ok := strings.Cut(stored[len(sealedPrefix):], ":")
	aead := k.data[id]
	if !ok || aead == nil {
		return "", fmt.Errorf("%w: %s: unknown data key %q", ErrCorrupt, column, id)
	}
	b, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrCorrupt, column, err)
	}
	plain, err := open(aead, b, []byte(column))
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrCorrupt, column)
	}
	return string(plain), nil
}

// BlindIndex is the exact-match token of a column's value: HMAC-SM3 under
// the index key of the normalised value (spaces dropped, upper case, so
// "11010519491231002x" finds "11010519491231002X"), 32 hex digits. Empty
// for an empty value.
func (k *Keyring) BlindIndex(column, value string) string {
	value = Normalize(value)
	if value == "" {
		return ""
	}
	h := hmac.New(sm3.New, k.index)
	h.Write([]byte(column))
	h.Write([]byte{0})
	h.Write([]byte(value))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Pseudonym is the warehouse's token for a person: HMAC-SM3 under the
// pseudonym key, stable for the same identifier, 20 hex digits. It cannot
// be reversed, nor recomputed from a guessed ID number, without the key.
func (k *Keyring) Pseudonym(identifier string) string {
	h := hmac.New(sm3.New, k.pseudo)
	h.Write([]byte(Normalize(identifier)))
	return "P" + hex.EncodeToString(h.Sum(nil))[:20]
}

// Normalize is the form a looked-up identifier is compared in.
func Normalize(v string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return unicode.ToUpper(r)
	}, v)
}

// Has reports whether the keyring holds data key id.
func (k *Keyring) Has(id string) bool { return k.data[id] != nil }
