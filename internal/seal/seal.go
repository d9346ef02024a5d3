// Package seal encrypts stored session payloads with AES-GCM, bound to the
// id of the row they are stored in; session.WithEncryption uses it.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/gormsession/gormsession/codec"
)

// version is the first byte of every sealed payload.
const version = 1

// ErrKey: no key, or a key that is not 16, 24 or 32 bytes long.
var ErrKey = errors.New("keys must be 16, 24 or 32 bytes, at least one")

// Sealer seals with its first key and opens with whichever key fits, so a
// key is rotated by putting the new one first and keeping the old ones
// until every session sealed with them has expired. It is safe for
// concurrent use.
type Sealer struct {
	aeads []cipher.AEAD
}

// New returns a Sealer for keys (16, 24 or 32 bytes each: AES-128, -192,
// -256), which it copies. An error names the key by position, never its
// bytes.
func New(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, ErrKey
	}
	s := &Sealer{}
	for i, k := range keys {
		block, err := aes.NewCipher(append([]byte(nil), k...))
		if err != nil {
			return nil, fmt.Errorf("%w (key %d has %d bytes)", ErrKey, i, len(k))
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

// Seal returns plain encrypted and authenticated together with ad (the id
// of the row it is stored in): a version byte, a 12-byte random nonce, the
// ciphertext and a 16-byte tag. It opens only with the same ad.
func (s *Sealer) Seal(plain, ad []byte) []byte {
	a := s.aeads[0]
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = version
	_, _ = rand.Read(out[1:]) // crypto/rand.Read never fails.
	return a.Seal(out, out[1:], plain, additional(out[0], ad))
}

// Open reverses Seal. Tampering, truncation, another ad, an unknown key or
// an unknown version fail with an error matching codec.ErrInvalid.
func (s *Sealer) Open(data, ad []byte) ([]byte, error) {
	a0 := s.aeads[0]
	if len(data) < 1+a0.NonceSize()+a0.Overhead() || data[0] != version {
		return nil, fmt.Errorf("%w (sealed)", codec.ErrInvalid)
	}
	nonce, box := data[1:1+a0.NonceSize()], data[1+a0.NonceSize():]
	aad := additional(data[0], ad)
	for _, a := range s.aeads {
		if plain, err := a.Open(nil, nonce, box, aad); err == nil {
			return plain, nil
		}
	}
	return nil, fmt.Errorf("%w (sealed)", codec.ErrInvalid)
}

// additional is the authenticated data: the version byte, then ad.
func additional(version byte, ad []byte) []byte {
	b := make([]byte, 0, 1+len(ad))
	return append(append(b, version), ad...)
}
