package bench

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/session"
)

// ours is gormsession with its defaults (JSON codec, random cleanup about
// once per 100 opens) on a table of its own.
type ours struct {
	ns *NS
	db *gorm.DB
	c  *session.Container[Payload]
}

const oursTable = "bench_gormsession"

func newOurs(ctx context.Context, ns *NS) (Subject, error) {
	db, err := ns.Gorm(nil)
	if err != nil {
		return nil, err
	}
	return &ours{ns: ns, db: db}, nil
}

func (o *ours) Name() string { return "ours" }

func (o *ours) Reset(ctx context.Context) error {
	if err := o.ns.Exec(ctx, "DROP TABLE IF EXISTS "+oursTable); err != nil {
		return err
	}
	opts := []session.Option{session.WithTable(oursTable), session.WithLifetime(Lifetime)}
	// BENCH_OURS_CLEANUP_FREQUENCY overrides the random cleanup's frequency
	// (default: the library's), to measure what the dice cost.
	if v := os.Getenv("BENCH_OURS_CLEANUP_FREQUENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		opts = append(opts, session.WithCleanupFrequency(n))
	}
	c, err := session.New[Payload](o.db, opts...)
	o.c = c
	return err
}

func (o *ours) Seed(ctx context.Context, n int, exp time.Time) ([]string, error) {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = NewToken()
	}
	created := exp.Add(-Lifetime).UnixMilli()
	err := o.ns.BulkInsert(ctx, oursTable,
		[]string{"id", "subject", "payload", "version", "created_at", "updated_at", "deadline", "expires_at"}, n,
		func(i int) []any {
			b, _ := json.Marshal(SamplePayload(i))
			return []any{StoredID(keys[i]), "", b, 1, created, created, exp.UnixMilli(), exp.UnixMilli()}
		})
	if err == nil {
		err = o.ns.Analyze(ctx, oursTable)
	}
	return keys, err
}

func (o *ours) Create(ctx context.Context) error {
	s, err := o.c.Open(ctx, "")
	if err != nil {
		return err
	}
	s.Data = SamplePayload(0)
	return o.c.Save(ctx, s)
}

func (o *ours) Open(ctx context.Context, key string) (any, error) {
	s, err := o.c.Open(ctx, key)
	if err == nil && s.IsNew() {
		err = errMissing
	}
	return s, err
}

func (o *ours) Load(ctx context.Context, key string) error {
	_, err := o.Open(ctx, key)
	return err
}

func (o *ours) Save(ctx context.Context, h any) error {
	s := h.(*session.Session[Payload])
	s.Data.Visits++
	return o.c.Save(ctx, s)
}

func (o *ours) Cleanup(ctx context.Context) (int64, error) { return o.c.Cleanup(ctx) }

// Quiesce waits for random cleanups in flight.
func (o *ours) Quiesce() { hooks.Of(o.db).Wait() }

func (o *ours) Close() error {
	if d, err := o.db.DB(); err == nil {
		return d.Close()
	}
	return nil
}
