package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/internal/token"
	"github.com/gormsession/gormsession/session"
)

// FuzzOpen feeds arbitrary strings as tokens to Open, Load and Exists on a
// SQLite table holding one session. Nothing panics or errors; only the
// stored session's own token opens it; every other input gives a fresh
// session with a new canonical token; and an input that is not a
// canonical token runs no SQL at all.
func FuzzOpen(f *testing.F) {
	db := testdb.Open(f, testdb.SQLite, nil)
	table := "fuzz_open"
	c, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { hooks.Of(db).Wait() })
	ctx := context.Background()
	s, err := c.Open(ctx, "")
	if err != nil {
		f.Fatal(err)
	}
	s.Data.Items = []string{"stored"}
	if err := c.Save(ctx, s); err != nil {
		f.Fatal(err)
	}
	known := s.Token()
	_, id := token.New()
	for _, seed := range []string{
		"", known, known + " ", " " + known, known[:42], known + "A", known[:10] + "\x00" + known[11:],
		strings.ToUpper(known), strings.ToLower(known), id, "+" + known[1:], known + "=", "%00", "' OR 1=1 --",
		strings.Repeat("A", 43), strings.Repeat("é", 22),
	} {
		f.Add(seed)
	}
	statements := statementCounter(f, db) // the fuzz function runs sequentially
	f.Fuzz(func(t *testing.T, tok string) {
		_, canonical := token.Parse(tok)
		before := statements.Load()
		got, err := c.Open(ctx, tok)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		_, lerr := c.Load(ctx, tok)
		ok, eerr := c.Exists(ctx, tok)
		if eerr != nil {
			t.Fatalf("Exists: %v", eerr)
		}
		if tok == known {
			if got.IsNew() || lerr != nil || !ok || got.Data.Items[0] != "stored" {
				t.Fatalf("the stored session did not open with its own token")
			}
			return
		}
		if !got.IsNew() || got.Token() == tok || ok || !errors.Is(lerr, session.ErrNotFound) {
			t.Fatalf("a token the server did not issue was accepted")
		}
		if _, fresh := token.Parse(got.Token()); !fresh {
			t.Fatalf("Open made a non-canonical token")
		}
		if len(got.Data.Items) != 0 {
			t.Fatalf("a fresh session carries data")
		}
		if n := statements.Load() - before; !canonical && n != 0 {
			t.Fatalf("a non-canonical token reached SQL (%d statements)", n)
		}
	})
}
