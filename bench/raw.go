package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// raw is the hand-written baseline: one statement per operation with the
// plain driver (pgx on PostgreSQL, database/sql elsewhere), the token as
// the key, the payload as JSON. It is the floor a GORM library is measured
// against.
type raw struct {
	ns                    *NS
	pool                  *pgxpool.Pool // PostgreSQL
	db                    *sql.DB       // SQLite, MySQL
	upsert, load, cleanup string
}

type rawHandle struct {
	key string
	p   Payload
}

const rawTable = "bench_sessions"

func newRaw(ctx context.Context, ns *NS) (Subject, error) {
	r := &raw{ns: ns}
	switch ns.Dialect {
	case Postgres:
		cfg, err := pgxpool.ParseConfig(ns.DSN)
		if err != nil {
			return nil, err
		}
		cfg.MaxConns = int32(ns.env.Conns)
		cfg.MaxConnIdleTime, cfg.HealthCheckPeriod = 2*time.Second, time.Second
		if r.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
			return nil, err
		}
		ns.pgx = append(ns.pgx, r.pool)
		r.upsert = "INSERT INTO " + rawTable + " (id, payload, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at"
		r.load = "SELECT payload FROM " + rawTable + " WHERE id = $1 AND expires_at > $2"
		r.cleanup = "DELETE FROM " + rawTable + " WHERE expires_at <= $1"
	case MySQL:
		r.db = ns.SQL
		r.upsert = "INSERT INTO " + rawTable + " (id, payload, expires_at) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE payload = VALUES(payload), expires_at = VALUES(expires_at)"
	default:
		r.db = ns.SQL
		r.upsert = "INSERT INTO " + rawTable + " (id, payload, expires_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET payload = excluded.payload, expires_at = excluded.expires_at"
	}
	if r.load == "" {
		r.load = "SELECT payload FROM " + rawTable + " WHERE id = ? AND expires_at > ?"
		r.cleanup = "DELETE FROM " + rawTable + " WHERE expires_at <= ?"
	}
	return r, nil
}

func (r *raw) Name() string { return "raw" }

// idTableDDL is the schema of the raw and plain GORM tables.
func idTableDDL(dialect, table string) []string {
	switch dialect {
	case Postgres:
		return []string{"CREATE TABLE " + table + " (id varchar(64) PRIMARY KEY, payload bytea NOT NULL, expires_at bigint NOT NULL)",
			"CREATE INDEX " + table + "_exp ON " + table + " (expires_at)"}
	case MySQL:
		return []string{"CREATE TABLE " + table + " (id varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, payload longblob NOT NULL, expires_at bigint NOT NULL, KEY " + table + "_exp (expires_at)) ENGINE=InnoDB"}
	default:
		return []string{"CREATE TABLE " + table + " (id TEXT NOT NULL PRIMARY KEY, payload BLOB NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID",
			"CREATE INDEX " + table + "_exp ON " + table + " (expires_at)"}
	}
}

func (r *raw) Reset(ctx context.Context) error {
	return r.ns.Exec(ctx, append([]string{"DROP TABLE IF EXISTS " + rawTable}, idTableDDL(r.ns.Dialect, rawTable)...)...)
}

func seedIDTable(ctx context.Context, ns *NS, n int, exp time.Time) ([]string, error) {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = NewToken()
	}
	err := ns.BulkInsert(ctx, rawTable, []string{"id", "payload", "expires_at"}, n, func(i int) []any {
		b, _ := json.Marshal(SamplePayload(i))
		return []any{keys[i], b, exp.UnixMilli()}
	})
	if err == nil {
		err = ns.Analyze(ctx, rawTable)
	}
	return keys, err
}

func (r *raw) Seed(ctx context.Context, n int, exp time.Time) ([]string, error) {
	return seedIDTable(ctx, r.ns, n, exp)
}

func (r *raw) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if r.pool != nil {
		tag, err := r.pool.Exec(ctx, q, args...)
		return tag.RowsAffected(), err
	}
	res, err := r.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (r *raw) store(ctx context.Context, key string, p *Payload) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = r.exec(ctx, r.upsert, key, b, time.Now().Add(Lifetime).UnixMilli())
	return err
}

func (r *raw) Create(ctx context.Context) error {
	p := SamplePayload(0)
	return r.store(ctx, NewToken(), &p)
}

func (r *raw) get(ctx context.Context, key string, p *Payload) error {
	var b []byte
	var err error
	if r.pool != nil {
		err = r.pool.QueryRow(ctx, r.load, key, nowMs()).Scan(&b)
		if err == pgx.ErrNoRows {
			return errMissing
		}
	} else {
		err = r.db.QueryRowContext(ctx, r.load, key, nowMs()).Scan(&b)
		if err == sql.ErrNoRows {
			return errMissing
		}
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, p)
}

func (r *raw) Load(ctx context.Context, key string) error {
	var p Payload
	return r.get(ctx, key, &p)
}

func (r *raw) Open(ctx context.Context, key string) (any, error) {
	h := &rawHandle{key: key}
	return h, r.get(ctx, key, &h.p)
}

func (r *raw) Save(ctx context.Context, h any) error {
	rh := h.(*rawHandle)
	rh.p.Visits++
	return r.store(ctx, rh.key, &rh.p)
}

func (r *raw) Cleanup(ctx context.Context) (int64, error) {
	return r.exec(ctx, r.cleanup, nowMs())
}

func (r *raw) Close() error {
	if r.pool != nil {
		r.pool.Close()
	}
	return nil
}
