package codec_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/codec"
)

type cart struct {
	Items []string
	Owner string
	Count int
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	in := cart{Items: []string{"apple", "pear"}, Owner: "ann", Count: 2}
	for name, c := range map[string]codec.Codec{
		"json": codec.JSON{},
		"gob":  codec.Gob{},
	} {
		b, err := c.Encode(&in)
		require.NoError(t, err, name)
		var out cart
		require.NoError(t, c.Decode(b, &out), name)
		require.Equal(t, in, out, name)
	}
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
