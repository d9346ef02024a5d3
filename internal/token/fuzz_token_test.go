package token

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, and accepts exactly the canonical tokens:
// 43 characters of the base64url alphabet without padding that decode to
// 32 bytes and encode back to the same string. For those it returns the
// lowercase hex SHA-256 of the 32 bytes; for anything else, "" and false.
func FuzzParse(f *testing.F) {
	tok, id := New()
	for _, s := range []string{
		"", tok, id, strings.ToUpper(id), tok + "A", tok[:42], tok + "=", " " + tok[1:], tok[:42] + "\x00",
		"+" + tok[1:], "/" + tok[1:], tok[:42] + "B", strings.Repeat("A", 43), strings.Repeat("_", 43),
		strings.Repeat("-", 43), strings.Repeat("é", 21) + "a", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE",
	} {
		f.Add(s)
	}
	strict := base64.RawURLEncoding.Strict()
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Parse(s)
		raw, err := strict.DecodeString(s)
		canonical := len(s) == Length && err == nil && len(raw) == Size && base64.RawURLEncoding.EncodeToString(raw) == s
		if ok != canonical {
			t.Fatalf("Parse(%q) ok = %v, canonical = %v", s, ok, canonical)
		}
		if !ok {
			if got != "" {
				t.Fatalf("Parse(%q) rejected it but returned a partial id", s)
			}
			return
		}
		sum := sha256.Sum256(raw)
		if want := hex.EncodeToString(sum[:]); got != want {
			t.Fatalf("Parse(%q) id = %q, want %q", s, got, want)
		}
	})
}
