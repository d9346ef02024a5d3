package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/bench"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// The exact half of the guard. Allocations and statements per operation
// do not depend on how busy the machine is, so the guard checks them for
// equality with the numbers recorded in guard_expected.txt: a change in
// either, up or down, fails with a message that says which and how to
// record the new numbers when the change is intended.
//
// Operations: create, load and save through the Container, and three
// requests through sessionhttp's Handler: an anonymous visitor whose
// handler never touches the session (http_anon: no statement), a signed-in
// request that only reads the session (http_read: the load, nothing
// written) and one that changes it through Manager.Update (http_write:
// load and one UPDATE).
//
// Allocations are counted on a *gorm.DB opened as the benchmark opens it;
// statements on a second one whose driver connections count every
// statement (count.go). Both containers run with the random cleanup off
// (WithCleanupFrequency(0)) so that no background cleanup blurs a count.

// exactOps lists the operations, in report order.
var exactOps = []string{"create", "load", "save", "http_anon", "http_read", "http_write"}

// exactN is the number of operations per counted run; exactWarm the
// number run first, uncounted, to warm connections and caches.
const (
	exactN    = 50
	exactWarm = 20
)

type exactKey struct{ db, op string }

type exactCounts struct{ allocs, stmts int }

// exactFixture is one container and manager on one *gorm.DB.
type exactFixture struct {
	c                 *session.Container[bench.Payload]
	m                 *sessionhttp.Manager[bench.Payload]
	keys              []string
	hs                []*session.Session[bench.Payload]
	anon, read, write http.Handler
}

func newExactFixture(ctx context.Context, db *gorm.DB) (*exactFixture, error) {
	c, err := session.New[bench.Payload](db, session.WithTable("guard_sessions"), session.WithLifetime(bench.Lifetime),
		session.WithCleanupFrequency(0))
	if err != nil {
		return nil, err
	}
	m, err := sessionhttp.New(c)
	if err != nil {
		return nil, err
	}
	fx := &exactFixture{c: c, m: m}
	for i := range 64 {
		s, err := c.Open(ctx, "")
		if err != nil {
			return nil, err
		}
		s.Data = bench.SamplePayload(i)
		if err := c.Save(ctx, s); err != nil {
			return nil, err
		}
		fx.keys = append(fx.keys, s.Token())
		if s, err = c.Open(ctx, s.Token()); err != nil {
			return nil, err
		}
		fx.hs = append(fx.hs, s)
	}
	ok := []byte("ok")
	fx.anon = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(ok) }))
	fx.read = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		_, _ = io.WriteString(w, s.Data.Name)
	}))
	fx.write = m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.Update(r, func(p *bench.Payload) error { p.Visits++; return nil }); err != nil {
			http.Error(w, "update failed", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(ok)
	}))
	return fx, nil
}

// prepare returns the i-th operation of kind op, everything it needs
// (requests, recorders) made beforehand so that only the operation itself
// is counted.
func (fx *exactFixture) prepare(ctx context.Context, op string, n int) ([]func() error, error) {
	fs := make([]func() error, n)
	for i := range fs {
		k := fx.keys[i%len(fx.keys)]
		switch op {
		case "create":
			fs[i] = func() error {
				s, err := fx.c.Open(ctx, "")
				if err != nil {
					return err
				}
				s.Data = bench.SamplePayload(0)
				return fx.c.Save(ctx, s)
			}
		case "load":
			fs[i] = func() error {
				s, err := fx.c.Open(ctx, k)
				if err == nil && s.IsNew() {
					err = errors.New("seeded session not found")
				}
				return err
			}
		case "save":
			s := fx.hs[i%len(fx.hs)]
			fs[i] = func() error {
				s.Data.Visits++
				return fx.c.Save(ctx, s)
			}
		default:
			h := map[string]http.Handler{"http_anon": fx.anon, "http_read": fx.read, "http_write": fx.write}[op]
			if h == nil {
				return nil, fmt.Errorf("unknown operation %q", op)
			}
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "https://example.com/", nil)
			if op != "http_anon" {
				req.AddCookie(&http.Cookie{Name: "__Host-session", Value: k})
			}
			rec := httptest.NewRecorder()
			fs[i] = func() error {
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					return fmt.Errorf("status %d", rec.Code)
				}
				return nil
			}
		}
	}
	return fs, nil
}

// countAllocs runs exactN operations three times after a warm-up and
// returns the fewest heap allocations per operation seen in a run (the
// process's other goroutines can only add to a count).
func (fx *exactFixture) countAllocs(ctx context.Context, op string) (float64, error) {
	if err := fx.warm(ctx, op); err != nil {
		return 0, err
	}
	best := math.Inf(1)
	for range 3 {
		fs, err := fx.prepare(ctx, op, exactN)
		if err != nil {
			return 0, err
		}
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		for _, f := range fs {
			if err := f(); err != nil {
				return 0, err
			}
		}
		runtime.ReadMemStats(&b)
		best = min(best, float64(b.Mallocs-a.Mallocs)/exactN)
	}
	return best, nil
}

// warm runs exactWarm operations of kind op.
func (fx *exactFixture) warm(ctx context.Context, op string) error {
	fs, err := fx.prepare(ctx, op, exactWarm)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// countStmts runs exactN operations after a warm-up and returns the
// statements per operation the counter saw.
func (fx *exactFixture) countStmts(ctx context.Context, op string, n *atomic.Int64) (float64, error) {
	if err := fx.warm(ctx, op); err != nil {
		return 0, err
	}
	fs, err := fx.prepare(ctx, op, exactN)
	if err != nil {
		return 0, err
	}
	before := n.Load()
	for _, f := range fs {
		if err := f(); err != nil {
			return 0, err
		}
	}
	return float64(n.Load()-before) / exactN, nil
}

// measureExact counts allocations and statements per operation of every
// exact operation on db.
func measureExact(ctx context.Context, env bench.Env, db string) (map[exactKey]exactCounts, map[exactKey][2]float64, error) {
	ns, err := env.Namespace(ctx, db, "guardexact")
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = ns.Drop(ctx) }()
	if db == bench.Postgres {
		// Counts do not depend on the commit waiting for the WAL flush;
		// the guard's time does.
		ns.DSN += " options='-c synchronous_commit=off'"
	}
	plain, err := ns.Gorm(nil)
	if err != nil {
		return nil, nil, err
	}
	defer closeGorm(plain)
	var n atomic.Int64
	sqlDB, err := countedDB(ns, &n)
	if err != nil {
		return nil, nil, err
	}
	var d gorm.Dialector
	switch db {
	case bench.Postgres:
		d = postgres.New(postgres.Config{Conn: sqlDB})
	case bench.MySQL:
		d = mysql.New(mysql.Config{Conn: sqlDB})
	default:
		d = sqlite.New(sqlite.Config{Conn: sqlDB})
	}
	counted, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, err
	}
	defer closeGorm(counted)
	fa, err := newExactFixture(ctx, plain)
	if err != nil {
		return nil, nil, err
	}
	fs, err := newExactFixture(ctx, counted)
	if err != nil {
		return nil, nil, err
	}
	got := map[exactKey]exactCounts{}
	raw := map[exactKey][2]float64{}
	for _, op := range exactOps {
		a, err := fa.countAllocs(ctx, op)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", db, op, err)
		}
		s, err := fs.countStmts(ctx, op, &n)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", db, op, err)
		}
		k := exactKey{db, op}
		got[k] = exactCounts{allocs: int(math.Round(a)), stmts: int(math.Round(s))}
		raw[k] = [2]float64{a, s}
	}
	return got, raw, nil
}

func closeGorm(db *gorm.DB) {
	if s, err := db.DB(); err == nil {
		_ = s.Close()
	}
}

const expectedHeader = `# Exact per-operation counts of gormsession that the CI guard checks
# (.ci/steps/50-bench-guard.sh: go run ./cmd/sessionbench -guard). Any
# difference, up or down, fails the guard.
#
# Allocations depend on the Go release and on the module versions in
# bench/go.mod (GORM, the drivers) as well as on gormsession; statements
# only on gormsession and GORM. When a change is intended (an optimisation,
# a dependency update, a new statement), record the new numbers and commit
# this file with the change, saying why in the commit message:
#
#	cd bench && go run ./cmd/sessionbench -guard-update
#
# db	operation	allocs/op	statements/op
`

// readExpected parses the expected-counts file.
func readExpected(path string) (map[exactKey]exactCounts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[exactKey]exactCounts{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Fields(t)
		if len(f) != 4 {
			return nil, fmt.Errorf("%s:%d: want 4 fields", path, line)
		}
		a, err1 := strconv.Atoi(f[2])
		s, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s:%d: bad number", path, line)
		}
		m[exactKey{f[0], f[1]}] = exactCounts{a, s}
	}
	return m, sc.Err()
}

// writeExpected rewrites path with got, keeping the entries of databases
// not measured this time.
func writeExpected(path string, got map[exactKey]exactCounts) error {
	all, err := readExpected(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if all == nil {
		all = map[exactKey]exactCounts{}
	}
	for k, v := range got {
		all[k] = v
	}
	keys := make([]exactKey, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	order := map[string]int{}
	for i, op := range exactOps {
		order[op] = i
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].db != keys[j].db {
			return keys[i].db < keys[j].db
		}
		return order[keys[i].op] < order[keys[j].op]
	})
	var b strings.Builder
	b.WriteString(expectedHeader)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s\t%s\t%d\t%d\n", k.db, k.op, all[k].allocs, all[k].stmts)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// checkExact compares got with want and prints one line per operation;
// it reports whether every count matched.
func checkExact(w io.Writer, dbs []string, got map[exactKey]exactCounts, raw map[exactKey][2]float64, want map[exactKey]exactCounts, path string) bool {
	ok := true
	fmt.Fprintf(w, "Exact counts (must equal %s):\n", path)
	fmt.Fprintf(w, "%-10s %-10s %16s %16s  %s\n", "database", "operation", "allocs/op", "statements/op", "verdict")
	for _, db := range dbs {
		for _, op := range exactOps {
			k := exactKey{db, op}
			g, have := got[k]
			if !have {
				continue
			}
			e, known := want[k]
			var msgs []string
			switch {
			case !known:
				msgs = append(msgs, "no expected numbers recorded")
			default:
				if g.allocs != e.allocs {
					msgs = append(msgs, fmt.Sprintf("allocations per %s changed from %d to %d (%+d)", op, e.allocs, g.allocs, g.allocs-e.allocs))
				}
				if g.stmts != e.stmts {
					msgs = append(msgs, fmt.Sprintf("statements per %s changed from %d to %d (%+d)", op, e.stmts, g.stmts, g.stmts-e.stmts))
				}
			}
			verdict := "ok"
			if len(msgs) > 0 {
				ok = false
				verdict = "FAIL: " + strings.Join(msgs, "; ")
			}
			r := raw[k]
			fmt.Fprintf(w, "%-10s %-10s %6d (%7.2f) %6d (%7.2f)  %s\n", db, op, g.allocs, r[0], g.stmts, r[1], verdict)
		}
	}
	if !ok {
		fmt.Fprintf(w, "\nAn exact count changed. If the change is intended, record the new numbers:\n"+
			"  cd bench && go run ./cmd/sessionbench -guard-update\n"+
			"and commit %s with the change; otherwise find what added (or removed) the allocation or statement.\n", path)
	}
	return ok
}
