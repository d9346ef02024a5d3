// Package token makes and checks session tokens. A token is 32 bytes from
// crypto/rand in unpadded base64url (43 characters); what is stored is the
// lowercase hex SHA-256 of those 32 bytes.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Size is the number of random bytes in a token.
const Size = 32

// Length is the length of an encoded token.
const Length = 43

var enc = base64.RawURLEncoding.Strict()

// New returns a fresh token and the id under which it is stored.
func New() (tok, id string) {
	var b [Size]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead.
	return enc.EncodeToString(b[:]), hash(&b)
}

// Parse checks that tok is a canonical token (43 characters of the base64url
// alphabet, no padding, unused trailing bits zero) and returns its storage
// id. ok is false for anything else; no partial result is returned.
func Parse(tok string) (id string, ok bool) {
	if len(tok) != Length {
		return "", false
	}
	var b [Size]byte
	n, err := enc.Decode(b[:], []byte(tok))
	if err != nil || n != Size {
		return "", false
	}
	return hash(&b), true
}

func hash(b *[Size]byte) string {
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}
