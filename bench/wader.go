package bench

import (
	"context"
	"encoding/base32"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/wader/gormstore/v2"
	"gorm.io/gorm"
)

// wader drives github.com/wader/gormstore/v2 through the gorilla/sessions
// API as a handler would: New from the request's cookie, change Values,
// Save. Keys are signed cookie values; the request objects are built per
// operation, as a server would receive them.
type wader struct {
	ns    *NS
	db    *gorm.DB
	store *gormstore.Store
}

const (
	waderTable  = "bench_wader"
	waderCookie = "sess"
)

var waderKey = []byte("0123456789abcdef0123456789abcdef")

type waderHandle struct {
	r *http.Request
	s *sessions.Session
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d discard) Header() http.Header       { return d.h }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func newWader(ctx context.Context, ns *NS) (Subject, error) {
	db, err := ns.Gorm(nil)
	if err != nil {
		return nil, err
	}
	return &wader{ns: ns, db: db}, nil
}

func (w *wader) Name() string { return "wader_gormstore" }

func (w *wader) Reset(ctx context.Context) error {
	if err := w.ns.Exec(ctx, "DROP TABLE IF EXISTS "+waderTable); err != nil {
		return err
	}
	w.store = gormstore.NewOptions(w.db, gormstore.Options{TableName: waderTable}, waderKey)
	w.store.SessionOpts.MaxAge = int(Lifetime / time.Second)
	return nil
}

func (w *wader) Seed(ctx context.Context, n int, exp time.Time) ([]string, error) {
	keys := make([]string, n)
	ids := make([]string, n)
	for i := range keys {
		ids[i] = strings.TrimRight(base32.StdEncoding.EncodeToString(securecookie.GenerateRandomKey(32)), "=")
		c, err := securecookie.EncodeMulti(waderCookie, ids[i], w.store.Codecs...)
		if err != nil {
			return nil, err
		}
		keys[i] = c
	}
	created := exp.Add(-Lifetime)
	err := w.ns.BulkInsert(ctx, waderTable, []string{"id", "data", "created_at", "updated_at", "expires_at"}, n, func(i int) []any {
		data, err := securecookie.EncodeMulti(waderCookie, map[any]any{"data": SamplePayload(i)}, w.store.Codecs...)
		if err != nil {
			panic(err)
		}
		if w.ns.Dialect == SQLite {
			return []any{ids[i], data, created, created, exp}
		}
		return []any{ids[i], data, created.UTC(), created.UTC(), exp.UTC()}
	})
	if err == nil {
		err = w.ns.Analyze(ctx, waderTable)
	}
	return keys, err
}

func request(ctx context.Context, cookie string) *http.Request {
	r := &http.Request{Header: http.Header{}}
	if cookie != "" {
		r.Header["Cookie"] = []string{waderCookie + "=" + cookie}
	}
	return r.WithContext(ctx)
}

func (w *wader) Create(ctx context.Context) error {
	r := request(ctx, "")
	s, err := w.store.New(r, waderCookie)
	if err != nil {
		return err
	}
	s.Values["data"] = SamplePayload(0)
	return w.store.Save(r, discard{http.Header{}}, s)
}

func (w *wader) Open(ctx context.Context, key string) (any, error) {
	r := request(ctx, key)
	s, err := w.store.New(r, waderCookie)
	if err != nil {
		return nil, err
	}
	if _, ok := s.Values["data"].(Payload); s.IsNew || !ok {
		return nil, errMissing
	}
	return &waderHandle{r: r, s: s}, nil
}

func (w *wader) Load(ctx context.Context, key string) error {
	_, err := w.Open(ctx, key)
	return err
}

func (w *wader) Save(ctx context.Context, h any) error {
	wh := h.(*waderHandle)
	p := wh.s.Values["data"].(Payload)
	p.Visits++
	wh.s.Values["data"] = p
	return w.store.Save(wh.r, discard{http.Header{}}, wh.s)
}

func (w *wader) Cleanup(ctx context.Context) (int64, error) {
	w.store.Cleanup()
	return -1, nil
}

func (w *wader) Close() error {
	if d, err := w.db.DB(); err == nil {
		return d.Close()
	}
	return nil
}
