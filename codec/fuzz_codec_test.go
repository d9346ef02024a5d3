package codec_test

import (
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
