package seal_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/internal/seal"
)

func key(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func sealer(t *testing.T, keys ...[]byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(keys...)
	require.NoError(t, err)
	return s
}

func TestRoundTripEveryKeySize(t *testing.T) {
	t.Parallel()
	plain := []byte(`{"owner":"ann"}`)
	for _, n := range []int{16, 24, 32} {
		s := sealer(t, key(1, n))
		box := s.Seal(plain, []byte("row-1"))
		require.NotContains(t, string(box), "ann", "sealed payloads are not readable")
		got, err := s.Open(box, []byte("row-1"))
		require.NoError(t, err, n)
		require.Equal(t, plain, got, n)
	}
}

func TestDetectsTamperingAndRotatesKeys(t *testing.T) {
	t.Parallel()
	oldKey, newKey := key(7, 32), key(9, 32)
	old, rotated, onlyNew := sealer(t, oldKey), sealer(t, newKey, oldKey), sealer(t, newKey)
	ad := []byte("row-1")
	plain := []byte(`{"owner":"bob"}`)

	b := old.Seal(plain, ad)
	got, err := rotated.Open(b, ad)
	require.NoError(t, err, "old key still opens")
	require.Equal(t, plain, got)
	_, err = onlyNew.Open(b, ad)
	require.ErrorIs(t, err, codec.ErrInvalid, "a retired key no longer opens")

	// Sealing uses the first key: the old-only sealer cannot open it.
	b2 := rotated.Seal(plain, ad)
	_, err = old.Open(b2, ad)
	require.ErrorIs(t, err, codec.ErrInvalid)
	_, err = onlyNew.Open(b2, ad)
	require.NoError(t, err)

	// Bound to its row: another ad does not open it.
	_, err = rotated.Open(b2, []byte("row-2"))
	require.ErrorIs(t, err, codec.ErrInvalid)

	// Flip every byte in turn: each one is caught.
	for i := range b {
		tampered := bytes.Clone(b)
		tampered[i] ^= 0x01
		_, err := rotated.Open(tampered, ad)
		require.ErrorIs(t, err, codec.ErrInvalid, "byte %d", i)
	}
	_, err = rotated.Open(b[:len(b)-1], ad)
	require.ErrorIs(t, err, codec.ErrInvalid)

	// Two seals of one value differ (random nonce).
	require.NotEqual(t, b2, rotated.Seal(plain, ad))
}

func TestRejectsBadKeys(t *testing.T) {
	t.Parallel()
	_, err := seal.New()
	require.ErrorIs(t, err, seal.ErrKey)
	_, err = seal.New(key(1, 32), key(1, 15))
	require.ErrorIs(t, err, seal.ErrKey)
	require.Contains(t, err.Error(), "key 1 has 15 bytes")
	require.False(t, strings.Contains(err.Error(), string(key(1, 15))))
}

// FuzzOpen: arbitrary bytes never open (or panic) under another's keys,
// and the sealer's own payloads always do.
func FuzzOpen(f *testing.F) {
	s, err := seal.New(key(3, 32), key(4, 16))
	if err != nil {
		f.Fatal(err)
	}
	valid := s.Seal([]byte(`{"items":["apple"]}`), []byte("row"))
	f.Add(valid, []byte("row"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte("row"))
	f.Add(valid[:13], []byte("row"))
	f.Fuzz(func(t *testing.T, data, ad []byte) {
		plain, err := s.Open(data, ad)
		if err != nil {
			require.ErrorIs(t, err, codec.ErrInvalid)
			require.Nil(t, plain)
			return
		}
		// Only a genuine seal opens: sealing again round-trips.
		got, err := s.Open(s.Seal(plain, ad), ad)
		require.NoError(t, err)
		require.Equal(t, plain, got)
	})
}
