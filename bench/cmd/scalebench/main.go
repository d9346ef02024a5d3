// Command scalebench measures how the cost of gormsession's operations
// grows with the table: load, save and a 32-client load-and-save mix on
// tables of 10k, 100k and 1M live sessions (by default) on PostgreSQL,
// SQLite and MySQL/MariaDB, and reports the median and 99th percentile
// latency of each operation.
//
//	go run ./cmd/scalebench                               # all three databases
//	go run ./cmd/scalebench -dbs sqlite -sizes 10000,100000 -passes 3 -d 1s
//	go run ./cmd/scalebench -insert -dbs sqlite           # the SQLite insert experiment
//
// Each table is made by gormsession's own migration and prefilled in bulk
// (multi-row INSERTs) with rows in the library's format. The sizes run
// interleaved: every pass times each operation on every table in turn,
// rotating the order, so a busy neighbour on the shared machine slows all
// sizes alike; the figures are the median over passes of each pass's
// percentile. It writes results/scale-<db>.csv (op,live,p50_us,p99_us),
// prints a markdown table per database, and the evidence that explains the
// curve: table and index sizes against the database's cache, cache hit
// ratios during the run, B-tree depth and the plan of a load.
//
// -insert runs the SQLite insert experiment of docs/perf-scale.md instead:
// the cost of inserting into a WITHOUT ROWID table keyed by a random hex
// SHA-256 against a rowid table and against ordered keys.
//
// Every namespace it makes (bench_gs_<pid>_scale) is dropped at the end.
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gormsession/gormsession/bench"
	"github.com/gormsession/gormsession/session"
)

func main() {
	var (
		dbs      = flag.String("dbs", "postgres,sqlite,mysql", "databases, comma-separated")
		sizes    = flag.String("sizes", "10000,100000,1000000", "live sessions per table, comma-separated")
		passes   = flag.Int("passes", 3, "passes over every size and operation")
		d        = flag.Duration("d", time.Second, "time per operation, size and pass")
		out      = flag.String("out", "results", "directory for scale-<db>.csv (empty: none)")
		insert   = flag.Bool("insert", false, "run the SQLite insert experiment instead")
		insertN  = flag.Int("insert-n", 1000000, "-insert: rows in each table before the timed inserts")
		cacheKiB = flag.Int("sqlite-cache-kib", 262144, "SQLite: after the scale passes, time every operation again with PRAGMA cache_size of this many KiB per connection, interleaved with the default (0: skip)")
	)
	flag.Parse()
	ctx := context.Background()
	env := bench.EnvFromEnvironment()
	env.RunID += "_scale"
	var live []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1000 {
			log.Fatalf("bad -sizes %q", *sizes)
		}
		live = append(live, n)
	}
	var made []*bench.NS
	cleanup := func() {
		for _, ns := range made {
			if err := ns.Drop(context.Background()); err != nil {
				log.Printf("drop %s: %v", ns.Name, err)
			}
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		cleanup()
		log.Fatal("interrupted; namespaces dropped")
	}()
	fatal := func(format string, args ...any) {
		cleanup()
		log.Fatalf(format, args...)
	}
	fmt.Printf("load average at start: %s\n\n", loadavg())
	if *insert {
		ns, err := env.Namespace(ctx, bench.SQLite, "insert")
		if err != nil {
			fatal("%v", err)
		}
		made = append(made, ns)
		if err := insertExperiment(ctx, ns, *insertN, *passes); err != nil {
			fatal("insert experiment: %v", err)
		}
		cleanup()
		fmt.Printf("\nload average at the end: %s\n", loadavg())
		return
	}
	for _, db := range strings.Split(*dbs, ",") {
		ns, err := env.Namespace(ctx, db, "scale")
		if err != nil {
			fatal("%s: namespace: %v", db, err)
		}
		made = append(made, ns)
		if err := runDB(ctx, ns, live, *passes, *d, *out, *cacheKiB); err != nil {
			fatal("%s: %v", db, err)
		}
		if err := ns.Drop(ctx); err != nil {
			log.Printf("drop %s: %v", ns.Name, err)
		}
		made = slices.DeleteFunc(made, func(x *bench.NS) bool { return x == ns })
	}
	fmt.Printf("load average at the end: %s\n", loadavg())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func tableName(live int) string { return "scale_" + strconv.Itoa(live) }

// runDB fills one table per size on ns, times every operation on every
// size in interleaved passes, and reports.
func runDB(ctx context.Context, ns *bench.NS, live []int, passes int, d time.Duration, out string, cacheKiB int) error {
	db, err := ns.Gorm(nil)
	if err != nil {
		return err
	}
	defer func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	}()
	if ns.Dialect == bench.SQLite {
		// Fill through one connection with a 256 MiB page cache: random
		// keys into a WITHOUT ROWID table with the default 2 MiB cache
		// crawl at about 2,000 rows/s once the table outgrows it. The
		// timed operations run through the library's pool, with the
		// default cache.
		ns.SQL.SetMaxOpenConns(1)
		if err := ns.Exec(ctx, "PRAGMA cache_size=-262144"); err != nil {
			return err
		}
	}
	var tables []*bench.ScaleTable
	for _, n := range live {
		t0 := time.Now()
		st, err := bench.NewScaleTable(ctx, ns, db, tableName(n), n, func(done int) {
			if n >= 500000 {
				log.Printf("%s: %s: %d rows", ns.Dialect, tableName(n), done)
			}
		})
		if err != nil {
			return fmt.Errorf("fill %d: %w", n, err)
		}
		took := time.Since(t0)
		log.Printf("%s: filled %s in %v (%.0f rows/s)", ns.Dialect, st.Table, took.Round(time.Millisecond), float64(n)/took.Seconds())
		tables = append(tables, st)
	}
	if ns.Dialect == bench.SQLite {
		if err := ns.Exec(ctx, "PRAGMA cache_size=-2000"); err != nil {
			return err
		}
		ns.SQL.SetMaxOpenConns(8)
	}
	// Warm every table (one load pass over random rows), then snapshot the
	// cache counters.
	for _, st := range tables {
		if _, err := st.RunScale(ctx, bench.ScaleLoad, d/2, 99); err != nil {
			return err
		}
	}
	ns.Release()
	before, err := cacheStats(ctx, ns, tables)
	if err != nil {
		log.Printf("%s: cache counters: %v", ns.Dialect, err)
	}
	type key struct {
		op   string
		live int
	}
	p50, p99 := map[key][]float64{}, map[key][]float64{}
	opsDone := map[key]int{}
	for pass := range passes {
		for _, op := range bench.ScaleOps {
			for k := range tables {
				st := tables[(k+pass)%len(tables)]
				s, err := st.RunScale(ctx, op, d, uint64(pass*10+k))
				if err != nil {
					return fmt.Errorf("%s on %d: %w", op, st.Live, err)
				}
				kk := key{op, st.Live}
				p50[kk] = append(p50[kk], us(s.Quantile(0.50)))
				p99[kk] = append(p99[kk], us(s.Quantile(0.99)))
				opsDone[kk] += s.Ops
				log.Printf("%s pass %d %-5s %8d live: p50 %7.1f µs  p99 %8.1f µs  (%d ops)", ns.Dialect, pass+1, op, st.Live,
					us(s.Quantile(0.50)), us(s.Quantile(0.99)), s.Ops)
				ns.Release()
			}
		}
	}
	ns.Release()
	time.Sleep(time.Second) // PostgreSQL backends flush their statistics as they exit
	after, err := cacheStats(ctx, ns, tables)
	if err != nil {
		log.Printf("%s: cache counters: %v", ns.Dialect, err)
	}

	// Report.
	fmt.Printf("## %s\n\nMedian over %d passes of each pass's percentile, µs per operation (%v per run; %s at the end):\n\n", ns.Dialect, passes, d, loadavg())
	fmt.Printf("| op | live | p50 µs | p99 µs | p50 / p50 at %d | ops timed |\n| --- | --- | --- | --- | --- | --- |\n", live[0])
	var rows [][]string
	for _, op := range bench.ScaleOps {
		first := median(p50[key{op, live[0]}])
		for _, n := range live {
			kk := key{op, n}
			m50, m99 := median(p50[kk]), median(p99[kk])
			fmt.Printf("| %s | %d | %.1f | %.1f | %.2f | %d |\n", op, n, m50, m99, m50/first, opsDone[kk])
			rows = append(rows, []string{op, strconv.Itoa(n), fmt.Sprintf("%.1f", m50), fmt.Sprintf("%.1f", m99)})
		}
	}
	fmt.Println()
	if out != "" {
		if err := writeCSV(filepath.Join(out, "scale-"+ns.Dialect+".csv"), rows); err != nil {
			return err
		}
	}
	if err := explain(ctx, ns, tables, before, after); err != nil {
		return err
	}
	if ns.Dialect == bench.SQLite && cacheKiB > 0 {
		return cacheVariant(ctx, ns, tables, passes, d, cacheKiB)
	}
	return nil
}

// cacheVariant times every operation on the tables through a second pool
// whose connections have a page cache of cacheKiB, interleaved with the
// default pool, to measure what the cache size does to the curve.
func cacheVariant(ctx context.Context, ns *bench.NS, tables []*bench.ScaleTable, passes int, d time.Duration, cacheKiB int) error {
	dsn := ns.DSN
	ns.DSN += "&_cache_size=-" + strconv.Itoa(cacheKiB)
	big, err := ns.Gorm(nil)
	ns.DSN = dsn
	if err != nil {
		return err
	}
	defer func() {
		if s, err := big.DB(); err == nil {
			_ = s.Close()
		}
	}()
	variants := map[string][]*bench.ScaleTable{"default": tables}
	for _, st := range tables {
		c, err := session.New[bench.Payload](big, session.WithTable(st.Table), session.WithLifetime(bench.Lifetime), session.WithoutAutoMigrate())
		if err != nil {
			return err
		}
		cp := *st
		cp.C = c
		variants["big"] = append(variants["big"], &cp)
		// Warm the new pool's caches as the default pool's were.
		if _, err := cp.RunScale(ctx, bench.ScaleLoad, d/2, 98); err != nil {
			return err
		}
	}
	type key struct {
		v, op string
		live  int
	}
	p50 := map[key][]float64{}
	p99 := map[key][]float64{}
	names := []string{"default", "big"}
	for pass := range passes {
		for _, op := range bench.ScaleOps {
			for k := range tables {
				for j := range names {
					v := names[(j+pass+k)%2]
					st := variants[v][k]
					s, err := st.RunScale(ctx, op, d, uint64(1000+pass*10+k))
					if err != nil {
						return fmt.Errorf("cache %s %s on %d: %w", v, op, st.Live, err)
					}
					kk := key{v, op, st.Live}
					p50[kk] = append(p50[kk], us(s.Quantile(0.5)))
					p99[kk] = append(p99[kk], us(s.Quantile(0.99)))
					log.Printf("sqlite cache %-7s pass %d %-5s %8d live: p50 %7.1f µs  p99 %8.1f µs (%d ops)", v, pass+1, op, st.Live, us(s.Quantile(0.5)), us(s.Quantile(0.99)), s.Ops)
				}
			}
		}
	}
	fmt.Printf("SQLite page cache: the default (2 MiB per connection) against %d MiB per connection (`_cache_size=-%d`), interleaved, median of %d passes (%s at the end):\n\n",
		cacheKiB/1024, cacheKiB, passes, loadavg())
	fmt.Printf("| op | live | p50 µs default | p50 µs %d MiB | p99 µs default | p99 µs %d MiB |\n| --- | --- | --- | --- | --- | --- |\n", cacheKiB/1024, cacheKiB/1024)
	for _, op := range bench.ScaleOps {
		for _, st := range tables {
			fmt.Printf("| %s | %d | %.1f | %.1f | %.1f | %.1f |\n", op, st.Live,
				median(p50[key{"default", op, st.Live}]), median(p50[key{"big", op, st.Live}]),
				median(p99[key{"default", op, st.Live}]), median(p99[key{"big", op, st.Live}]))
		}
	}
	fmt.Println()
	return nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func writeCSV(path string, rows [][]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"op", "live", "p50_us", "p99_us"})
	_ = w.WriteAll(rows)
	if err := w.Error(); err != nil {
		_ = f.Close()
		return err
	}
	log.Printf("wrote %s", path)
	return f.Close()
}
