// Package redact removes secrets of this module's shape from text meant for
// logs and error messages: session tokens (43 base64url characters) and
// stored ids (64 hex digits). It is the second line of defence; the first is
// never putting them in a message.
package redact

import "strings"

// Mask replaces a redacted secret.
const Mask = "[redacted]"

// Secrets returns msg with every token- or id-shaped run replaced by Mask.
// A run is a maximal sequence of base64url characters (letters, digits,
// '-' and '_'), so only a run of exactly a token's or an id's length
// counts: longer identifiers that merely contain hex, such as pgx's
// "stmtcache_<hex>" statement names, are left readable.
func Secrets(msg string) string {
	var b strings.Builder
	last := 0 // end of what has been copied to b
	for i := 0; i < len(msg); {
		if !isRunByte(msg[i]) {
			i++
			continue
		}
		j := i
		for j < len(msg) && isRunByte(msg[j]) {
			j++
		}
		if secretShaped(msg[i:j]) {
			if b.Len() == 0 {
				b.Grow(len(msg))
			}
			b.WriteString(msg[last:i])
			b.WriteString(Mask)
			last = j
		}
		i = j
	}
	if last == 0 {
		return msg
	}
	b.WriteString(msg[last:])
	return b.String()
}

// secretShaped reports whether run, a maximal base64url run, has the shape
// of a token or of a stored id.
func secretShaped(run string) bool {
	switch len(run) {
	case 43:
		return true
	case 64:
		for i := 0; i < len(run); i++ {
			if !isHex(run[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func isRunByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
