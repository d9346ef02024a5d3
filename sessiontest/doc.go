// Package sessiontest is the test kit for code that uses gormsession: a
// session container for a test in one call, the database under it, a clock
// the test moves by hand, and the options that are test knobs rather than
// production settings (the clock, the random cleanup's source of
// randomness, the cleanup batch size).
//
// A test of code that keeps a cart in a session:
//
//	func TestCartExpires(t *testing.T) {
//		t.Parallel()
//		ctx := context.Background()
//		clock := sessiontest.NewClock(time.Now())
//		carts := sessiontest.New[Cart](t, sessiontest.WithClock(clock.Now),
//			session.WithLifetime(time.Hour))
//
//		s, err := carts.Open(ctx, "") // a new, unsaved session
//		require.NoError(t, err)
//		s.Data.Items = append(s.Data.Items, "book")
//		require.NoError(t, carts.Save(ctx, s))
//
//		clock.Advance(2 * time.Hour)
//		_, err = carts.Load(ctx, s.Token())
//		require.ErrorIs(t, err, session.ErrNotFound)
//	}
//
// No cleanup is needed: the table is dropped, the container closed and the
// database closed when the test ends.
//
// # Handlers
//
// Request hands a handler a request that already carries a stored session,
// for unit tests of handlers served through a sessionhttp.Manager:
//
//	m, _ := sessionhttp.New(carts)
//	r, s := sessiontest.Request(t, m, httptest.NewRequest("GET", "/cart", nil),
//		func(s *session.Session[Cart]) { s.SetSubject("user:7") })
//	rec := httptest.NewRecorder()
//	m.Handler(cartHandler).ServeHTTP(rec, r)
//	// then check rec, and Load s.Token() to see what the handler stored
//
// # Which database
//
// By default each call of Open (and so of New) gets a new SQLite file in
// the test's temporary directory; SQLite is embedded, so the tests need no
// server. When the environment variable GORMSESSION_TEST_DSN is set (and
// not empty), Open opens the database it names instead, so the same tests
// run on PostgreSQL or MySQL/MariaDB:
//
//	GORMSESSION_TEST_DSN='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./...
//	GORMSESSION_TEST_DSN='root@tcp(127.0.0.1:3306)/test' go test ./...
//
// Every container New makes has a table of its own, so tests may run in
// parallel on one shared database. See Open for the accepted forms of the
// DSN.
package sessiontest
