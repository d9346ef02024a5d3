package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// The ordinary Go benchmarks, for profiling one subject on one database:
//
//	go test -run '^$' -bench 'Store/sqlite/ours/load' -benchmem -cpuprofile cpu.out -memprofile mem.out
//
// BENCH_SESSIONS sets how many live sessions are seeded (default 100000).
// cmd/sessionbench is what run.sh uses for the report.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	env := EnvFromEnvironment()
	n := 100000
	if v := os.Getenv("BENCH_SESSIONS"); v != "" {
		if _, err := fmtSscan(v, &n); err != nil {
			b.Fatal(err)
		}
	}
	for _, dialect := range []string{Postgres, SQLite, MySQL} {
		b.Run(dialect, func(b *testing.B) {
			for _, f := range Subjects() {
				if !f.Supports(dialect) {
					continue
				}
				b.Run(f.Name, func(b *testing.B) {
					if !strings.Contains(b.Name(), "/") {
						return
					}
					ns, err := env.Namespace(ctx, dialect, f.Name)
					if err != nil {
						b.Skip(err)
					}
					defer ns.Drop(ctx)
					s, err := f.New(ctx, ns)
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					if err := s.Reset(ctx); err != nil {
						b.Fatal(err)
					}
					keys, err := s.Seed(ctx, n, time.Now().Add(Lifetime))
					if err != nil {
						b.Fatal(err)
					}
					for _, w := range Workloads {
						b.Run(w, Bench(ctx, w, s, keys))
					}
				})
			}
		})
	}
}
