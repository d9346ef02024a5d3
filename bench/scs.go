package bench

import (
	"context"
	"time"

	"github.com/alexedwards/scs/gormstore"
	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"gorm.io/gorm"
)

// scsSubject drives an scs SessionManager (its default gob codec, 24h
// lifetime) over one of its stores, the payload under one key, as an scs
// user would: Load, Get, Put, Commit. The stores' own background cleanup is
// off; none of them exports a cleanup call (each runs one unbatched DELETE,
// the raw baseline's statement).
type scsSubject struct {
	name   string
	ns     *NS
	sm     *scs.SessionManager
	ddl    []string
	expiry func(time.Time) any
	// remake rebuilds the store after Reset (scs gormstore migrates in New).
	remake func() (scs.Store, error)
	close  func()
}

const scsTable = "sessions" // fixed by most scs stores

func newSCS(name string, ns *NS, ddl []string, expiry func(time.Time) any, remake func() (scs.Store, error), closeFn func()) *scsSubject {
	sm := scs.New()
	sm.Lifetime = Lifetime
	return &scsSubject{name: name, ns: ns, sm: sm, ddl: ddl, expiry: expiry, remake: remake, close: closeFn}
}

func utc(t time.Time) any { return t.UTC() }

func newSCSPgx(ctx context.Context, ns *NS) (Subject, error) {
	cfg, err := pgxpool.ParseConfig(ns.DSN)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(ns.env.Conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ns.pgx = append(ns.pgx, pool)
	return newSCS("scs_pgxstore", ns, pgSCSDDL, utc,
		func() (scs.Store, error) { return pgxstore.NewWithCleanupInterval(pool, 0), nil }, pool.Close), nil
}

var pgSCSDDL = []string{
	"CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)",
	"CREATE INDEX sessions_expiry_idx ON sessions (expiry)",
}

func newSCSPostgres(ctx context.Context, ns *NS) (Subject, error) {
	return newSCS("scs_postgresstore", ns, pgSCSDDL, utc,
		func() (scs.Store, error) { return postgresstore.NewWithCleanupInterval(ns.SQL, 0), nil }, func() {}), nil
}

func newSCSSQLite(ctx context.Context, ns *NS) (Subject, error) {
	ddl := []string{
		"CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL, expiry REAL NOT NULL)",
		"CREATE INDEX sessions_expiry_idx ON sessions(expiry)",
	}
	julian := func(t time.Time) any { return float64(t.UnixMilli())/86400000 + 2440587.5 }
	return newSCS("scs_sqlite3store", ns, ddl, julian,
		func() (scs.Store, error) { return sqlite3store.NewWithCleanupInterval(ns.SQL, 0), nil }, func() {}), nil
}

func newSCSMySQL(ctx context.Context, ns *NS) (Subject, error) {
	ddl := []string{
		"CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL)",
		"CREATE INDEX sessions_expiry_idx ON sessions (expiry)",
	}
	return newSCS("scs_mysqlstore", ns, ddl, utc,
		func() (scs.Store, error) { return mysqlstore.NewWithCleanupInterval(ns.SQL, 0), nil }, func() {}), nil
}

func newSCSGorm(ctx context.Context, ns *NS) (Subject, error) {
	db, err := ns.Gorm(nil)
	if err != nil {
		return nil, err
	}
	closeFn := func() {
		if d, err := db.DB(); err == nil {
			_ = d.Close()
		}
	}
	var expiry func(time.Time) any = utc
	if ns.Dialect == SQLite {
		// GORM's SQLite driver stores time.Time as text; seed the same form
		// it writes and compares with.
		expiry = func(t time.Time) any { return t }
	}
	return newSCS("scs_gormstore", ns, nil, expiry,
		func() (scs.Store, error) { return gormstore.NewWithCleanupInterval(db, 0) }, closeFn), nil
}

func (s *scsSubject) Name() string { return s.name }

func (s *scsSubject) Reset(ctx context.Context) error {
	if err := s.ns.Exec(ctx, append([]string{"DROP TABLE IF EXISTS " + scsTable}, s.ddl...)...); err != nil {
		return err
	}
	st, err := s.remake()
	s.sm.Store = st
	return err
}

func (s *scsSubject) Seed(ctx context.Context, n int, exp time.Time) ([]string, error) {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = NewToken()
	}
	err := s.ns.BulkInsert(ctx, scsTable, []string{"token", "data", "expiry"}, n, func(i int) []any {
		b, err := s.sm.Codec.Encode(exp, map[string]any{"data": SamplePayload(i)})
		if err != nil {
			panic(err)
		}
		return []any{keys[i], b, s.expiry(exp)}
	})
	if err == nil {
		err = s.ns.Analyze(ctx, scsTable)
	}
	return keys, err
}

func (s *scsSubject) Create(ctx context.Context) error {
	c, err := s.sm.Load(ctx, "")
	if err != nil {
		return err
	}
	s.sm.Put(c, "data", SamplePayload(0))
	_, _, err = s.sm.Commit(c)
	return err
}

func (s *scsSubject) Open(ctx context.Context, key string) (any, error) {
	c, err := s.sm.Load(ctx, key)
	if err != nil {
		return nil, err
	}
	if _, ok := s.sm.Get(c, "data").(Payload); !ok {
		return nil, errMissing
	}
	return c, nil
}

func (s *scsSubject) Load(ctx context.Context, key string) error {
	_, err := s.Open(ctx, key)
	return err
}

func (s *scsSubject) Save(ctx context.Context, h any) error {
	c := h.(context.Context)
	p := s.sm.Get(c, "data").(Payload)
	p.Visits++
	s.sm.Put(c, "data", p)
	_, _, err := s.sm.Commit(c)
	return err
}

func (s *scsSubject) Cleanup(ctx context.Context) (int64, error) { return 0, ErrUnsupported }

func (s *scsSubject) Close() error { s.close(); return nil }

var _ = (*gorm.DB)(nil)
