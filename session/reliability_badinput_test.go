package session_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
)

// CartV2 is Cart after an incompatible change of its fields' Go types.
type CartV2 struct {
	Items int    `json:"items"`
	Count string `json:"count"`
}

// statementCounter counts every statement GORM runs on db, through every
// callback chain a statement can take.
func statementCounter(t testing.TB, db *gorm.DB) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	count := func(*gorm.DB) { n.Add(1) }
	name := "test:statements"
	cb := db.Callback()
	require.NoError(t, cb.Query().Before("gorm:query").Register(name, count))
	require.NoError(t, cb.Row().Before("gorm:row").Register(name, count))
	require.NoError(t, cb.Raw().Before("gorm:raw").Register(name, count))
	require.NoError(t, cb.Create().Before("gorm:create").Register(name, count))
	require.NoError(t, cb.Update().Before("gorm:update").Register(name, count))
	require.NoError(t, cb.Delete().Before("gorm:delete").Register(name, count))
	t.Cleanup(func() {
		_ = cb.Query().Remove(name)
		_ = cb.Row().Remove(name)
		_ = cb.Raw().Remove(name)
		_ = cb.Create().Remove(name)
		_ = cb.Update().Remove(name)
		_ = cb.Delete().Remove(name)
	})
	return &n
}

// swapCase flips the case of every letter.
func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 32
		case r >= 'A' && r <= 'Z':
			return r + 32
		}
		return r
	}, s)
}

// TestBadInputTokensRejectedBeforeSQL: tokens that are not canonical (with
// spaces, NUL bytes, too long or short, padded, of the standard base64
// alphabet, non-canonical trailing bits, the stored id in either case,
// huge) make Open, Load, Exists and Update run zero SQL statements, as
// counted by callbacks on every GORM chain. A canonical token that
// differs from a real one only in letter case is another well-formed
// token: it costs one lookup per call and finds nothing.
func TestBadInputTokensRejectedBeforeSQL(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		s.Data.Items = []string{"secret"}
		require.NoError(t, e.c.Save(ctx, s))
		tok := s.Token()
		id := idOf(t, tok)
		bad := map[string]string{
			"empty":          "",
			"leading space":  " " + tok,
			"trailing space": tok + " ",
			"inner space":    tok[:20] + " " + tok[21:],
			"newline":        tok[:42] + "\n",
			"NUL inside":     tok[:10] + "\x00" + tok[11:],
			"NUL appended":   tok + "\x00",
			"too long":       tok + "A",
			"too short":      tok[:42],
			"padded":         tok + "=",
			"std alphabet":   "+" + tok[1:],
			"slash":          "/" + tok[1:],
			"non-canonical":  tok[:42] + flipLow(tok[42]),
			"stored id":      id,
			"stored id UC":   strings.ToUpper(id),
			"huge":           strings.Repeat(tok, 1000),
			"unicode":        strings.Repeat("é", 21) + "a",
			"percent":        "%" + tok[1:],
			"quote":          "'" + tok[1:],
		}
		n := statementCounter(t, db)
		for name, b := range bad {
			o, err := e.c.Open(ctx, b)
			require.NoError(t, err, name)
			require.True(t, o.IsNew(), name)
			require.NotEqual(t, tok, o.Token(), name)
			_, err = e.c.Load(ctx, b)
			require.ErrorIs(t, err, session.ErrNotFound, name)
			ok, err := e.c.Exists(ctx, b)
			require.NoError(t, err, name)
			require.False(t, ok, name)
			_, err = e.c.Update(ctx, b, func(*Cart) error { t.Error("fn called for", name); return nil })
			require.ErrorIs(t, err, session.ErrNotFound, name)
			require.Zero(t, n.Load(), "%s reached SQL", name)
		}
		// The counter does count: a real lookup is one statement.
		_, err := e.c.Load(ctx, tok)
		require.NoError(t, err)
		require.EqualValues(t, 1, n.Load())

		// Case matters: a case-swapped canonical token is another token.
		swapped := swapCase(tok[:42]) + tok[42:]
		if swapped != tok {
			n.Store(0)
			_, err := e.c.Load(ctx, swapped)
			require.ErrorIs(t, err, session.ErrNotFound)
			o, err := e.c.Open(ctx, swapped)
			require.NoError(t, err)
			require.True(t, o.IsNew())
			require.EqualValues(t, 2, n.Load(), "one lookup per call, nothing else")
		}
		got, err := e.c.Load(ctx, tok)
		require.NoError(t, err)
		require.Equal(t, []string{"secret"}, got.Data.Items)
		require.EqualValues(t, 1, e.count(t))
	})
}

func flipLow(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return string(alphabet[strings.IndexByte(alphabet, c)^1])
}

// twoSessions stores two sessions, a victim and a bystander, and returns
// their tokens.
func twoSessions(t *testing.T, c *session.Container[Cart]) (victim, bystander string) {
	t.Helper()
	ctx := context.Background()
	for i, items := range [][]string{{"victim"}, {"bystander"}} {
		s, err := c.Open(ctx, "")
		require.NoError(t, err)
		s.Data.Items = items
		s.Data.Count = i + 1
		require.NoError(t, c.Save(ctx, s))
		if i == 0 {
			victim = s.Token()
		} else {
			bystander = s.Token()
		}
	}
	return victim, bystander
}

// requireUndecodable checks how every entry point treats a stored row
// that cannot be decoded: Load and Update fail with ErrCorrupt and return
// no session (nothing half-decoded), Update never calls fn, Open starts a
// fresh session with zero Data, and the row itself is left as it was.
func requireUndecodable[T any](t *testing.T, e env, c *session.Container[T], tok, what string) {
	t.Helper()
	ctx := context.Background()
	before := e.rows(t)
	s, err := c.Load(ctx, tok)
	require.ErrorIs(t, err, session.ErrCorrupt, what)
	require.Equal(t, "corrupt", session.ErrorKind(err), what)
	require.Nil(t, s, what)
	s, err = c.Update(ctx, tok, func(*T) error { t.Error("Update called fn on an undecodable row:", what); return nil })
	require.ErrorIs(t, err, session.ErrCorrupt, what)
	require.Nil(t, s, what)
	s, err = c.Open(ctx, tok)
	require.NoError(t, err, what)
	require.True(t, s.IsNew(), what)
	require.NotEqual(t, tok, s.Token(), what)
	var zero T
	require.Equal(t, zero, s.Data, "%s: Open returned half-decoded data", what)
	require.True(t, rowsEqual(before, e.rows(t)), "%s: an undecodable row was changed", what)
}

// requireBystander checks that the other session is intact.
func requireBystander(t *testing.T, e env, tok string) {
	t.Helper()
	got, err := e.c.Load(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, Cart{Items: []string{"bystander"}, Count: 2}, got.Data)
}

// TestBadInputChangedGoType: sessions written for Cart read back as a
// CartV2 whose fields changed Go type, with the JSON and the gob codec:
// ErrCorrupt, no half-decoded value, rows untouched, the Cart container
// still reads them.
func TestBadInputChangedGoType(t *testing.T) {
	t.Parallel()
	for _, cd := range []struct {
		name string
		c    codec.Codec
	}{{"json", codec.JSON{}}, {"gob", codec.Gob{}}} {
		t.Run(cd.name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				e := setup(t, db, session.WithCodec(cd.c))
				victim, bystander := twoSessions(t, e.c)
				v2, err := session.New[CartV2](db, session.WithTable(e.table), session.WithCleanupFrequency(0),
					session.WithCodec(cd.c), session.WithoutAutoMigrate())
				require.NoError(t, err)
				requireUndecodable(t, e, v2, victim, "changed type")
				requireBystander(t, e, bystander)
				got, err := e.c.Load(context.Background(), victim)
				require.NoError(t, err)
				require.Equal(t, []string{"victim"}, got.Data.Items)
			})
		})
	}
}

// setPayload overwrites a row's payload by hand.
func setPayload(t *testing.T, e env, tok string, payload []byte) {
	t.Helper()
	res := silent(e.db).Table(e.table).Where("id = ?", idOf(t, tok)).Update("payload", payload)
	require.NoError(t, res.Error)
	require.EqualValues(t, 1, res.RowsAffected)
}

func storedPayload(t *testing.T, e env, tok string) []byte {
	t.Helper()
	var p []byte
	require.NoError(t, silent(e.db).Table(e.table).Where("id = ?", idOf(t, tok)).Select("payload").Row().Scan(&p))
	return p
}

// TestBadInputTamperedSealedPayload: with the AES-GCM codec, a stored
// payload with one bit flipped (in the version byte, the nonce, the
// ciphertext or the tag), truncated, emptied, or read with an unknown key
// is ErrCorrupt everywhere, never half-decoded; the other session is
// untouched.
func TestBadInputTamperedSealedPayload(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, session.WithEncryption(key))
		victim, bystander := twoSessions(t, e.c)
		orig := storedPayload(t, e, victim)
		require.NotContains(t, string(orig), "victim", "sealed payload is in clear")
		for _, pos := range []int{0, 1, 12, 13, len(orig) / 2, len(orig) - 1} {
			bad := append([]byte(nil), orig...)
			bad[pos] ^= 0x01
			setPayload(t, e, victim, bad)
			requireUndecodable(t, e, e.c, victim, "bit flipped")
		}
		for name, bad := range map[string][]byte{"truncated": orig[:len(orig)-1], "header only": orig[:13], "empty": {}} {
			setPayload(t, e, victim, bad)
			requireUndecodable(t, e, e.c, victim, name)
		}
		setPayload(t, e, victim, orig)
		stranger, err := session.New[Cart](db, session.WithTable(e.table), session.WithCleanupFrequency(0),
			session.WithEncryption([]byte("fedcba9876543210fedcba9876543210")), session.WithoutAutoMigrate())
		require.NoError(t, err)
		requireUndecodable(t, e, stranger, victim, "unknown key")
		requireBystander(t, e, bystander)
		got, err := e.c.Load(context.Background(), victim)
		require.NoError(t, err)
		require.Equal(t, []string{"victim"}, got.Data.Items, "restored payload no longer opens")
	})
}

// TestBadInputSealedPayloadBoundToSession: a sealed payload copied by hand
// from one session's row into another's (a cut-and-paste by someone who
// can write the table but has no key) must not open there: the seal
// authenticates the row id.
func TestBadInputSealedPayloadBoundToSession(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, session.WithEncryption([]byte("0123456789abcdef0123456789abcdef")))
		victim, bystander := twoSessions(t, e.c)
		setPayload(t, e, victim, storedPayload(t, e, bystander))
		requireUndecodable(t, e, e.c, victim, "payload of another row")
		requireBystander(t, e, bystander)
		// Binding to the row id must survive Renew, which moves the row.
		ctx := context.Background()
		s, err := e.c.Load(ctx, bystander)
		require.NoError(t, err)
		require.NoError(t, e.c.Renew(ctx, s))
		got, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err, "a renewed sealed session no longer opens")
		require.Equal(t, []string{"bystander"}, got.Data.Items)
	})
}

// TestBadInputRowsEditedByHand: rows changed directly in the table (payload
// garbage or empty, version bumped, expires_at moved into the past, id
// upper-cased) give typed errors and lose nothing else.
func TestBadInputRowsEditedByHand(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		raw := func() *gorm.DB { return silent(db).Table(e.table) }

		// Payload garbage, empty, and a valid JSON value of the wrong shape.
		victim, bystander := twoSessions(t, e.c)
		orig := storedPayload(t, e, victim)
		for name, bad := range map[string][]byte{
			"garbage": []byte("not json at all"), "empty": {}, "array": []byte(`[1,2,3]`),
			"half": []byte(`{"items":["injected"],"count":"x"}`), "truncated": orig[:len(orig)/2],
		} {
			setPayload(t, e, victim, bad)
			requireUndecodable(t, e, e.c, victim, name)
		}
		setPayload(t, e, victim, orig)

		// Version bumped by hand: a copy loaded before is stale.
		stale, err := e.c.Load(ctx, victim)
		require.NoError(t, err)
		require.NoError(t, raw().Where("id = ?", idOf(t, victim)).Update("version", gorm.Expr("version + 5")).Error)
		stale.Data.Count = 100
		require.ErrorIs(t, e.c.Save(ctx, stale), session.ErrConflict)
		upd, err := e.c.Update(ctx, victim, func(c *Cart) error { c.Count = 7; return nil })
		require.NoError(t, err, "Update reloads and succeeds")
		require.Equal(t, 7, upd.Data.Count)

		// expires_at moved into the past: gone for every reader and writer.
		loaded, err := e.c.Load(ctx, victim)
		require.NoError(t, err)
		require.NoError(t, raw().Where("id = ?", idOf(t, victim)).Update("expires_at", 1).Error)
		_, err = e.c.Load(ctx, victim)
		require.ErrorIs(t, err, session.ErrNotFound)
		ok, err := e.c.Exists(ctx, victim)
		require.NoError(t, err)
		require.False(t, ok)
		loaded.Data.Count = 8
		require.ErrorIs(t, e.c.Save(ctx, loaded), session.ErrNotFound, "a save must not revive an expired row")
		require.ErrorIs(t, e.c.Renew(ctx, loaded), session.ErrNotFound)
		n, err := e.c.Cleanup(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		requireBystander(t, e, bystander)

		// id upper-cased: the token no longer names it (ids are lowercase).
		victim2, _ := twoSessionsOne(t, e)
		require.NoError(t, raw().Where("id = ?", idOf(t, victim2)).Update("id", strings.ToUpper(idOf(t, victim2))).Error)
		_, err = e.c.Load(ctx, victim2)
		require.ErrorIs(t, err, session.ErrNotFound)
		requireBystander(t, e, bystander)
		require.EqualValues(t, 2, e.count(t))
	})
}

func twoSessionsOne(t *testing.T, e env) (string, *session.Session[Cart]) {
	t.Helper()
	s, err := e.c.Open(context.Background(), "")
	require.NoError(t, err)
	s.Data.Items = []string{"victim2"}
	require.NoError(t, e.c.Save(context.Background(), s))
	return s.Token(), s
}

// TestBadInputOversizedPayload: a payload over WithMaxPayloadSize, with
// every codec, fails Save, Renew and Update with ErrTooLarge before any
// SQL; the stored session keeps its previous payload and version, and the
// other session is untouched.
func TestBadInputOversizedPayload(t *testing.T) {
	t.Parallel()
	for _, cd := range []struct {
		name string
		opt  session.Option
	}{
		{"json", session.WithCodec(codec.JSON{})},
		{"gob", session.WithCodec(codec.Gob{})},
		{"sealed", session.WithEncryption([]byte("0123456789abcdef"))},
	} {
		t.Run(cd.name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				e := setup(t, db, cd.opt, session.WithMaxPayloadSize(512))
				ctx := context.Background()
				victim, bystander := twoSessions(t, e.c)
				before := e.rows(t)
				s, err := e.c.Load(ctx, victim)
				require.NoError(t, err)
				n := statementCounter(t, db)
				big := strings.Repeat("z", 600)
				s.Data.Items = []string{big}
				err = e.c.Save(ctx, s)
				require.ErrorIs(t, err, session.ErrTooLarge)
				require.NotContains(t, err.Error(), "zzzz")
				require.ErrorIs(t, e.c.Renew(ctx, s), session.ErrTooLarge)
				require.Zero(t, n.Load(), "SQL ran for an oversized payload")
				_, err = e.c.Update(ctx, victim, func(c *Cart) error { c.Items = []string{big}; return nil })
				require.ErrorIs(t, err, session.ErrTooLarge)
				require.EqualValues(t, 1, n.Load(), "Update may load, never write")
				require.True(t, rowsEqual(before, e.rows(t)), "an oversized save changed the table")
				got, err := e.c.Load(ctx, victim)
				require.NoError(t, err)
				require.Equal(t, []string{"victim"}, got.Data.Items)
				requireBystander(t, e, bystander)
				// Just under the limit is fine.
				got.Data.Items = []string{strings.Repeat("z", 100)}
				require.NoError(t, e.c.Save(ctx, got))
			})
		})
	}
}
