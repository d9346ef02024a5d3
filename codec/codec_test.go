package codec_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/codec"
)

type cart struct {
	Items []string
	Owner string
	Count int
}

func key(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func sealedCodec(t *testing.T, keys ...[]byte) codec.Codec {
	t.Helper()
	c, err := codec.Sealed(codec.JSON{}, keys...)
	require.NoError(t, err)
	return c
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	in := cart{Items: []string{"apple", "pear"}, Owner: "ann", Count: 2}
	for name, c := range map[string]codec.Codec{
		"json":       codec.JSON{},
		"gob":        codec.Gob{},
		"sealed-128": sealedCodec(t, key(1, 16)),
		"sealed-256": sealedCodec(t, key(2, 32)),
		"sealed-gob": must(codec.Sealed(codec.Gob{}, key(3, 24))),
	} {
		b, err := c.Encode(&in)
		require.NoError(t, err, name)
		var out cart
		require.NoError(t, c.Decode(b, &out), name)
		require.Equal(t, in, out, name)
	}
}

func must(c codec.Codec, err error) codec.Codec {
	if err != nil {
		panic(err)
	}
	return c
}

func TestDecodeErrorsAreTypedAndQuiet(t *testing.T) {
	t.Parallel()
	secret := "SECRET-PAYLOAD-VALUE"
	cases := map[string]struct {
		c    codec.Codec
		data []byte
	}{
		"json syntax":       {codec.JSON{}, []byte(`{"Owner":"` + secret)},
		"json changed type": {codec.JSON{}, []byte(`{"Owner":"x","Count":"` + secret + `"}`)},
		"json number":       {codec.JSON{}, []byte(`{"Owner": 12345678}`)},
		"gob garbage":       {codec.Gob{}, []byte(secret)},
		"gob empty":         {codec.Gob{}, nil},
		"sealed garbage":    {sealedCodec(t, key(1, 32)), []byte(secret + secret)},
		"sealed short":      {sealedCodec(t, key(1, 32)), []byte{1, 2, 3}},
	}
	for name, tc := range cases {
		var out cart
		err := tc.c.Decode(tc.data, &out)
		require.ErrorIs(t, err, codec.ErrInvalid, name)
		require.NotContains(t, err.Error(), secret, name)
		require.NotContains(t, err.Error(), "12345678", name)
	}
	var out cart
	err := codec.JSON{}.Decode([]byte(`{"Count":"x"}`), &out)
	require.Contains(t, err.Error(), `"cart.Count"`, "a type change names the field")
}

func TestSealedDetectsTamperingAndRotatesKeys(t *testing.T) {
	t.Parallel()
	oldKey, newKey := key(7, 32), key(9, 32)
	old := sealedCodec(t, oldKey)
	rotated := sealedCodec(t, newKey, oldKey)
	onlyNew := sealedCodec(t, newKey)

	in := cart{Owner: "bob", Count: 3}
	b, err := old.Encode(&in)
	require.NoError(t, err)
	require.NotContains(t, string(b), "bob", "sealed payloads are not readable")

	var out cart
	require.NoError(t, rotated.Decode(b, &out), "old key still opens")
	require.Equal(t, in, out)
	require.ErrorIs(t, onlyNew.Decode(b, &cart{}), codec.ErrInvalid, "a retired key no longer opens")

	// Encoding uses the first key: the old-only codec cannot open it.
	b2, err := rotated.Encode(&in)
	require.NoError(t, err)
	require.ErrorIs(t, old.Decode(b2, &cart{}), codec.ErrInvalid)
	require.NoError(t, onlyNew.Decode(b2, &cart{}))

	// Flip every byte in turn: each one is caught.
	for i := range b {
		tampered := bytes.Clone(b)
		tampered[i] ^= 0x01
		var got cart
		err := rotated.Decode(tampered, &got)
		require.ErrorIs(t, err, codec.ErrInvalid, "byte %d", i)
		require.Equal(t, cart{}, got, "nothing half-decoded")
	}
	require.ErrorIs(t, rotated.Decode(b[:len(b)-1], &cart{}), codec.ErrInvalid)

	// Two encodings of one value differ (random nonce).
	b3, _ := rotated.Encode(&in)
	require.NotEqual(t, b2, b3)
}

func TestSealedRejectsBadKeys(t *testing.T) {
	t.Parallel()
	_, err := codec.Sealed(codec.JSON{})
	require.ErrorIs(t, err, codec.ErrKey)
	_, err = codec.Sealed(codec.JSON{}, key(1, 32), key(1, 15))
	require.ErrorIs(t, err, codec.ErrKey)
	require.False(t, strings.Contains(err.Error(), string(key(1, 15))))
	_, err = codec.Sealed(nil, key(1, 32))
	require.Error(t, err)
	require.False(t, errors.Is(err, codec.ErrInvalid))
}

func TestGobDecodeSurvivesHostileInput(t *testing.T) {
	t.Parallel()
	good, err := codec.Gob{}.Encode(&cart{Items: []string{"a"}})
	require.NoError(t, err)
	for i := range good {
		for _, v := range []byte{0x00, 0xff, 0x7f} {
			bad := bytes.Clone(good)
			bad[i] = v
			var out cart
			_ = codec.Gob{}.Decode(bad, &out) // must not panic
		}
	}
}
