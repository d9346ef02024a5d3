package codec_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"reflect"
	"testing"

	"github.com/gormsession/gormsession/codec"
)

// payload is a typical session payload, with the kinds of fields that make
// decoders work: strings, numbers, slices, maps, pointers, nesting.
type payload struct {
	User  string
	ID    int64
	Roles []string
	Prefs map[string]int
	Ratio float64
	Next  *payload
	OK    bool
}

func samples() []payload {
	return []payload{
		{},
		{User: "alice", ID: 42, Roles: []string{"admin", "dev"}, Prefs: map[string]int{"theme": 2}, Ratio: 0.5, OK: true},
		{User: "bob", Next: &payload{User: "nested", ID: -1}},
	}
}

// fuzzDecode checks one codec: Decode never panics; on failure the error
// matches codec.ErrInvalid; on success the value encodes and decodes back
// to itself (no half-decoded state leaks into a value that then behaves
// differently).
func fuzzDecode(t *testing.T, c codec.Codec, data []byte) {
	var v payload
	err := c.Decode(data, &v)
	if err != nil {
		if !errors.Is(err, codec.ErrInvalid) {
			t.Fatalf("decode error does not match ErrInvalid: %v", err)
		}
		return
	}
	enc, err := c.Encode(&v)
	if err != nil {
		return // a decoded value the codec cannot encode (e.g. NaN in JSON) is not a decode bug
	}
	var w payload
	if err := c.Decode(enc, &w); err != nil {
		t.Fatalf("re-decoding an encoded value failed: %v", err)
	}
	if !reflect.DeepEqual(normal(v), normal(w)) {
		t.Fatalf("round trip changed the value")
	}
}

// normal maps empty slices and maps to nil so that codecs which do not
// distinguish them compare equal.
func normal(p payload) payload {
	if len(p.Roles) == 0 {
		p.Roles = nil
	}
	if len(p.Prefs) == 0 {
		p.Prefs = nil
	}
	if p.Next != nil {
		n := normal(*p.Next)
		p.Next = &n
	}
	if p.Ratio != p.Ratio { // NaN
		p.Ratio = 0
	}
	return p
}

// FuzzJSONDecode fuzzes codec.JSON's Decode.
func FuzzJSONDecode(f *testing.F) {
	for _, p := range samples() {
		b, err := codec.JSON{}.Encode(&p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "null", "{", `{"User":1}`, `{"Roles":"x"}`, `[]`, `{"Next":{"Next":{"Next":null}}}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, codec.JSON{}, data) })
}

// FuzzGobDecode fuzzes codec.Gob's Decode, which must turn even a panic
// inside encoding/gob into ErrInvalid.
func FuzzGobDecode(f *testing.F) {
	for _, p := range samples() {
		b, err := codec.Gob{}.Encode(&p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, codec.Gob{}, data) })
}

var (
	sealKey   = []byte("0123456789abcdef0123456789abcdef")
	sealedOld = []byte("fedcba9876543210")
)

// sealFixed builds a sealed payload the way codec.Sealed does (version
// byte 1, 12-byte nonce, AES-GCM with the version byte as additional
// data), with a fixed nonce so that the seeds are reproducible.
func sealFixed(key, plain []byte, nonceByte byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	out := make([]byte, 1+aead.NonceSize())
	out[0] = 1
	for i := 1; i < len(out); i++ {
		out[i] = nonceByte + byte(i)
	}
	return aead.Seal(out, out[1:], plain, out[:1])
}

// validSealed returns every sealed payload the fuzz target seeds with;
// nothing else may ever open.
func validSealed() [][]byte {
	var out [][]byte
	for i, p := range samples() {
		plain, err := codec.JSON{}.Encode(&p)
		if err != nil {
			panic(err)
		}
		out = append(out, sealFixed(sealKey, plain, byte(i)), sealFixed(sealedOld, plain, byte(100+i)))
	}
	return out
}

// FuzzSealedDecode fuzzes codec.Sealed (AES-GCM over JSON, two keys for
// rotation): no panic, failures match ErrInvalid, and no input other than
// the genuine sealed seeds ever opens (no forgery, no tampering accepted).
func FuzzSealedDecode(f *testing.F) {
	c, err := codec.Sealed(codec.JSON{}, sealKey, sealedOld)
	if err != nil {
		f.Fatal(err)
	}
	valid := validSealed()
	for _, v := range valid {
		f.Add(v)
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(append([]byte{2}, valid[0][1:]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v payload
		err := c.Decode(data, &v)
		if err != nil {
			if !errors.Is(err, codec.ErrInvalid) {
				t.Fatalf("decode error does not match ErrInvalid: %v", err)
			}
			return
		}
		for _, ok := range valid {
			if bytes.Equal(ok, data) {
				return
			}
		}
		t.Fatalf("a sealed payload that was never sealed opened")
	})
}
