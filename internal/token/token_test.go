package token

import (
	"strings"
	"testing"
)

func TestNewParseRoundTrip(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 1000 {
		tok, id := New()
		if len(tok) != Length || len(id) != 64 {
			t.Fatalf("lengths %d %d", len(tok), len(id))
		}
		got, ok := Parse(tok)
		if !ok || got != id {
			t.Fatalf("Parse(New()) = %v, want the same id", ok)
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tok, id := New()
	cases := map[string]string{
		"empty":          "",
		"short":          tok[:42],
		"long":           tok + "A",
		"padded":         tok + "=",
		"space":          " " + tok[1:],
		"nul":            tok[:42] + "\x00",
		"std alphabet +": "+" + tok[1:],
		"std alphabet /": "/" + tok[1:],
		"stored id":      id,
		"non-canonical":  tok[:42] + flipLowBits(tok[42]),
		"unicode":        strings.Repeat("é", 21) + "a",
	}
	for name, in := range cases {
		if _, ok := Parse(in); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	// Case matters: flipping the case of a letter gives another token.
	for i := range len(tok) {
		c := tok[i]
		var swapped byte
		switch {
		case c >= 'a' && c <= 'z':
			swapped = c - 32
		case c >= 'A' && c <= 'Z':
			swapped = c + 32
		default:
			continue
		}
		other := tok[:i] + string(swapped) + tok[i+1:]
		if oid, ok := Parse(other); ok && oid == id {
			t.Fatalf("case-changed token maps to the same id")
		}
		break
	}
}

// flipLowBits returns the base64url character whose value differs from c's
// in the two lowest bits, which a canonical 32-byte token must have as zero.
func flipLowBits(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}
