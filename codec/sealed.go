package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// sealedVersion is the first byte of every sealed payload.
const sealedVersion = 1

// ErrKey is returned by Sealed for a missing key or a key that is not 16, 24
// or 32 bytes long.
var ErrKey = errors.New("codec: sealed: keys must be 16, 24 or 32 bytes, at least one")

// Sealed wraps inner in AES-GCM authenticated encryption. It encrypts with
// keys[0] and decrypts with whichever of keys opens the payload, so a key is
// rotated by putting the new key first and keeping the old ones until every
// session sealed with them has expired. Each key is 16, 24 or 32 bytes
// (AES-128, -192, -256); Sealed copies them.
//
// A sealed payload is a version byte, a 12-byte random nonce, then the
// ciphertext and 16-byte tag. Used through a session.Container, each
// payload is also bound to the id of the row it is stored in (see Sealer),
// so a payload copied into another session's row does not open there. Tampering, truncation, an unknown key or an
// unknown version all fail with ErrInvalid before inner sees any byte.
func Sealed(inner Codec, keys ...[]byte) (Codec, error) {
	if inner == nil {
		return nil, errors.New("codec: sealed: nil inner codec")
	}
	if len(keys) == 0 {
		return nil, ErrKey
	}
	s := &sealed{inner: inner}
	for i, k := range keys {
		block, err := aes.NewCipher(append([]byte(nil), k...))
		if err != nil {
			return nil, fmt.Errorf("%w (key %d has %d bytes)", ErrKey, i, len(k))
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec: sealed: key %d: %w", i, err)
		}
		s.aeads = append(s.aeads, aead)
	}
	return s, nil
}

type sealed struct {
	inner Codec
	aeads []cipher.AEAD
}

func (s *sealed) Encode(v any) ([]byte, error) {
	plain, err := s.inner.Encode(v)
	if err != nil {
		return nil, err
	}
	return s.Seal(plain, nil)
}

func (s *sealed) Decode(data []byte, v any) error {
	plain, err := s.Open(data, nil)
	if err != nil {
		return err
	}
	return s.inner.Decode(plain, v)
}

// Sealer is a Codec that wraps another and transforms its bytes, as Sealed
// does. Callers that need to compare payloads (to save only what changed)
// compare the inner encoding, since sealing is randomised.
type Sealer interface {
	Codec
	// Inner returns the wrapped codec.
	Inner() Codec
	// Seal transforms the inner encoding into the stored form, bound to
	// ad (associated data, such as the id of the row it is stored in): it
	// opens only with the same ad.
	Seal(plain, ad []byte) ([]byte, error)
	// Open reverses Seal; it fails with ErrInvalid on tampered input or a
	// different ad.
	Open(data, ad []byte) ([]byte, error)
}

func (s *sealed) Inner() Codec { return s.inner }

func (s *sealed) Seal(plain, ad []byte) ([]byte, error) {
	a := s.aeads[0]
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = sealedVersion
	_, _ = rand.Read(out[1:]) // crypto/rand.Read never fails.
	return a.Seal(out, out[1:], plain, additional(out[0], ad)), nil
}

// additional is the authenticated data: the version byte, then ad.
func additional(version byte, ad []byte) []byte {
	b := make([]byte, 0, 1+len(ad))
	return append(append(b, version), ad...)
}

func (s *sealed) Open(data, ad []byte) ([]byte, error) {
	a0 := s.aeads[0]
	if len(data) < 1+a0.NonceSize()+a0.Overhead() || data[0] != sealedVersion {
		return nil, fmt.Errorf("%w (sealed)", ErrInvalid)
	}
	nonce, box := data[1:1+a0.NonceSize()], data[1+a0.NonceSize():]
	aad := additional(data[0], ad)
	for _, a := range s.aeads {
		if plain, err := a.Open(nil, nonce, box, aad); err == nil {
			return plain, nil
		}
	}
	return nil, fmt.Errorf("%w (sealed)", ErrInvalid)
}
