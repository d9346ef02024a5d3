// Command cleanbench measures gormsession's cleanup against one DELETE
// (issue 13, part 1): expired sessions among live ones, a writer saving
// live sessions throughout, on PostgreSQL, SQLite and MySQL/MariaDB.
//
// Subjects, interleaved within every pass (each pass rotates their order):
//
//   - ours: the cleanup Container.Cleanup runs (store.DefaultPacing, the
//     container's 30 s batch timeout), timed batch by batch;
//   - fixed: the policy of the previous release, 1000 rows a batch with
//     its statements (store.FixedPacing), for before and after;
//   - one-delete: the yardstick, DELETE FROM t WHERE expires_at <= now in
//     one statement.
//
// Every run seeds the expired rows anew (seed.go: the payload of bench's
// Seed, and as there every expired row has the same expires_at), so each
// subject starts from the same table; on PostgreSQL a VACUUM follows the seeding, as an
// autovacuum would have run on rows that expired long ago. After every
// run it checks that every live row is still there and no expired row is,
// and exits 1 if not.
//
// It writes bench/results/cleanup-summary.csv (one row per database, size,
// subject and pass) and bench/results/cleanup-timeline-<db>.csv (every
// writer save of the median pass of ours and of one-delete at the first
// size), and prints a markdown summary.
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gormsession/gormsession/bench"
	"github.com/gormsession/gormsession/internal/store"
)

const table = "bench_gormsession" // the table of bench's ours subject

func main() {
	var (
		dbs      = flag.String("dbs", "postgres,sqlite,mysql", "databases, comma-separated")
		subjects = flag.String("subjects", "ours,fixed,one-delete", "subjects, comma-separated")
		passes   = flag.Int("passes", 5, "passes over every subject at each size")
		sizes    = flag.String("expired", "100000", "expired rows per run, comma-separated sizes")
		live     = flag.Int("live", 100000, "live rows")
		out      = flag.String("out", "results", "directory for the CSV files (empty: none)")
		target   = flag.Duration("target", 0, "override ours' batch target (tuning)")
		pause    = flag.Duration("pause", -1, "override ours' pause between batches (tuning)")
		maxBatch = flag.Int("max", 0, "override ours' largest batch (tuning)")
		start    = flag.Int("start", 0, "override ours' first batch (tuning)")
		verbose  = flag.Bool("v", false, "log every run")
	)
	flag.Parse()
	// No random cleanup fires from the writer's opens.
	_ = os.Setenv("BENCH_OURS_CLEANUP_FREQUENCY", "0")
	tune := func(p store.Pacing) store.Pacing {
		if *target > 0 {
			p.Target = *target
		}
		if *pause >= 0 {
			p.Pause = *pause
		}
		if *maxBatch > 0 {
			p.Max = *maxBatch
		}
		if *start > 0 {
			p.Start = *start
		}
		return p
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			log.Fatalf("bad -expired %q", s)
		}
		ns = append(ns, n)
	}
	ctx := context.Background()
	env := bench.EnvFromEnvironment()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("cleanbench %s UTC, load average at start: %s\n", time.Now().UTC().Format("2006-01-02 15:04"), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	var all []result
	broken := false
	for _, db := range strings.Split(*dbs, ",") {
		rs, err := runDB(ctx, env, strings.TrimSpace(db), strings.Split(*subjects, ","), ns, *live, *passes, tune, *verbose)
		all = append(all, rs...)
		if err != nil {
			log.Printf("%s: %v", db, err)
			broken = true
		}
	}
	report(os.Stdout, all)
	if *out != "" {
		if err := writeCSV(*out, all); err != nil {
			log.Fatal(err)
		}
	}
	if broken {
		os.Exit(1)
	}
}

// result is one cleanup run.
type result struct {
	db        string
	expired   int
	live      int
	subject   string
	pass      int
	total     time.Duration
	deleted   int64
	batches   []time.Duration
	sizes     []int64
	saves     []save // the writer's saves that overlapped the cleanup
	liveLost  int64
	leftOver  int64
	writerErr error
}

// save is one writer save: when it started, relative to the cleanup's
// start, and how long it took.
type save struct{ at, wait time.Duration }

func (r result) waits() []time.Duration {
	w := make([]time.Duration, len(r.saves))
	for i, s := range r.saves {
		w[i] = s.wait
	}
	slices.Sort(w)
	return w
}

func (r result) worst() time.Duration {
	w := r.waits()
	if len(w) == 0 {
		return 0
	}
	return w[len(w)-1]
}

func (r result) p99() time.Duration {
	w := r.waits()
	if len(w) == 0 {
		return 0
	}
	return w[len(w)*99/100]
}

func (r result) slowest() time.Duration {
	if len(r.batches) == 0 {
		return r.total // one statement
	}
	return slices.Max(r.batches)
}

func (r result) rate() float64 { return float64(r.deleted) / r.total.Seconds() }

func runDB(ctx context.Context, env bench.Env, db string, subjects []string, sizes []int, live, passes int,
	tune func(store.Pacing) store.Pacing, verbose bool) ([]result, error) {
	ns, err := env.Namespace(ctx, db, "cleanbench")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := ns.Drop(context.Background()); err != nil {
			log.Printf("%s: drop: %v", db, err)
		}
	}()
	var f bench.Factory
	for _, x := range bench.Subjects() {
		if x.Name == "ours" {
			f = x
		}
	}
	s, err := f.New(ctx, ns)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.Reset(ctx); err != nil {
		return nil, err
	}
	keys, err := s.Seed(ctx, live, time.Now().Add(bench.Lifetime/2))
	if err != nil {
		return nil, err
	}
	hs := make([]any, 64)
	for i := range hs {
		if hs[i], err = s.Open(ctx, keys[i*97%len(keys)]); err != nil {
			return nil, err
		}
	}
	gdb, err := ns.Gorm(nil)
	if err != nil {
		return nil, err
	}
	st, err := store.New(gdb, table)
	if err != nil {
		return nil, err
	}
	dialect := st.Dialect()
	oneDelete := "DELETE FROM " + table + " WHERE expires_at <= ?"
	if dialect == store.Postgres {
		oneDelete = "DELETE FROM " + table + " WHERE expires_at <= $1"
	}
	cleanups := map[string]func(ctx context.Context, now int64, r *result) error{
		"ours": func(ctx context.Context, now int64, r *result) error {
			return paced(ctx, st, now, r, tune(store.DefaultPacing(dialect)))
		},
		"fixed": func(ctx context.Context, now int64, r *result) error {
			return paced(ctx, st, now, r, store.FixedPacing(store.BatchSizeDefault))
		},
		"one-delete": func(ctx context.Context, now int64, r *result) error {
			res, err := ns.SQL.ExecContext(ctx, oneDelete, now)
			if err == nil {
				r.deleted, err = res.RowsAffected()
			}
			return err
		},
	}
	for _, name := range subjects {
		if cleanups[name] == nil {
			return nil, fmt.Errorf("unknown subject %q", name)
		}
	}
	var out []result
	for _, expired := range sizes {
		for pass := 1; pass <= passes; pass++ {
			for i := range subjects {
				name := subjects[(i+pass-1)%len(subjects)]
				r := result{db: db, expired: expired, live: live, subject: name, pass: pass}
				if err := run(ctx, ns, s, hs, cleanups[name], expired, &r); err != nil {
					return out, fmt.Errorf("%s pass %d: %w", name, pass, err)
				}
				if verbose {
					log.Printf("%s %d %s pass %d: %v, %d batches, slowest %v, writer worst %v p99 %v (%d saves)",
						db, expired, name, pass, r.total.Round(time.Millisecond), max(len(r.batches), 1),
						r.slowest().Round(time.Millisecond), r.worst().Round(100*time.Microsecond),
						r.p99().Round(100*time.Microsecond), len(r.saves))
				}
				if verbose && len(r.batches) > 0 {
					var b strings.Builder
					for i := range r.batches {
						if i < 12 || i == len(r.batches)-1 {
							fmt.Fprintf(&b, " %d/%v", r.sizes[i], r.batches[i].Round(100*time.Microsecond))
						}
					}
					log.Printf("  batches (rows/took):%s", b.String())
				}
				out = append(out, r)
				if r.liveLost != 0 || r.leftOver != 0 || r.deleted != int64(expired) {
					return out, fmt.Errorf("%s pass %d: deleted %d of %d, %d live rows lost, %d expired left",
						name, pass, r.deleted, expired, r.liveLost, r.leftOver)
				}
			}
		}
	}
	return out, nil
}

func paced(ctx context.Context, st *store.Store, now int64, r *result, p store.Pacing) error {
	n, err := st.CleanupPaced(ctx, now, store.CleanupOptions{BatchTimeout: 30 * time.Second,
		OnBatch: func(n int64, took time.Duration) {
			r.batches = append(r.batches, took)
			r.sizes = append(r.sizes, n)
		}}, p)
	r.deleted = n
	return err
}

var runSeq int

// run seeds expired rows, starts the writer, runs cleanup and checks what
// is left.
func run(ctx context.Context, ns *bench.NS, s bench.Subject, hs []any,
	cleanup func(context.Context, int64, *result) error, expired int, r *result) error {
	runSeq++
	if err := seedExpired(ctx, ns, expired, time.Now().Add(-time.Hour).UnixMilli(), runSeq); err != nil {
		return err
	}
	if ns.Dialect == bench.Postgres {
		if err := ns.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
			return err
		}
	}
	var (
		stop  = make(chan struct{})
		wg    sync.WaitGroup
		saves []save
		begin time.Time
		ready = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ready
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			t := time.Now()
			if err := s.Save(ctx, hs[i%len(hs)]); err != nil {
				r.writerErr = err
				return
			}
			saves = append(saves, save{at: t.Sub(begin), wait: time.Since(t)})
		}
	}()
	now := time.Now().UnixMilli()
	begin = time.Now().Add(20 * time.Millisecond)
	close(ready)
	time.Sleep(time.Until(begin)) // the writer is running before the cleanup starts
	err := cleanup(ctx, now, r)
	r.total = time.Since(begin)
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	if r.writerErr != nil {
		return fmt.Errorf("writer: %w", r.writerErr)
	}
	for _, sv := range saves {
		if sv.at+sv.wait > 0 && sv.at < r.total {
			r.saves = append(r.saves, sv)
		}
	}
	var liveLeft, expiredLeft int64
	q := "SELECT COUNT(*) FROM " + table + " WHERE expires_at > ?"
	q2 := "SELECT COUNT(*) FROM " + table + " WHERE expires_at <= ?"
	if ns.Dialect == bench.Postgres {
		q, q2 = strings.Replace(q, "?", "$1", 1), strings.Replace(q2, "?", "$1", 1)
	}
	if err := ns.SQL.QueryRowContext(ctx, q, now).Scan(&liveLeft); err != nil {
		return err
	}
	if err := ns.SQL.QueryRowContext(ctx, q2, now).Scan(&expiredLeft); err != nil {
		return err
	}
	r.liveLost, r.leftOver = int64(r.live)-liveLeft, expiredLeft
	return nil
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

func writeCSV(dir string, rs []result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "cleanup-summary.csv"), func(w *csv.Writer) error {
		if err := w.Write([]string{"db", "expired", "live", "subject", "pass", "total_ms", "worst_wait_ms",
			"p99_wait_ms", "slowest_batch_ms", "rows_per_s"}); err != nil {
			return err
		}
		for _, r := range rs {
			if err := w.Write([]string{r.db, strconv.Itoa(r.expired), strconv.Itoa(r.live), r.subject,
				strconv.Itoa(r.pass), ms(r.total), ms(r.worst()), ms(r.p99()), ms(r.slowest()),
				strconv.FormatFloat(r.rate(), 'f', 0, 64)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	// The timeline of each database: the median pass of ours and of
	// one-delete at the first size measured.
	byDB := map[string][]result{}
	var order []string
	for _, r := range rs {
		if _, ok := byDB[r.db]; !ok {
			order = append(order, r.db)
		}
		byDB[r.db] = append(byDB[r.db], r)
	}
	for _, db := range order {
		first := byDB[db][0].expired
		err := writeFile(filepath.Join(dir, "cleanup-timeline-"+db+".csv"), func(w *csv.Writer) error {
			if err := w.Write([]string{"subject", "t_ms", "wait_ms"}); err != nil {
				return err
			}
			for _, subject := range []string{"ours", "one-delete"} {
				m, ok := medianRun(byDB[db], first, subject)
				if !ok {
					continue
				}
				for _, sv := range m.saves {
					if err := w.Write([]string{subject, ms(sv.at), ms(sv.wait)}); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, fill func(*csv.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := fill(w); err != nil {
		f.Close()
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runs returns the runs of subject at size expired.
func runs(rs []result, expired int, subject string) []result {
	var out []result
	for _, r := range rs {
		if r.expired == expired && r.subject == subject {
			out = append(out, r)
		}
	}
	return out
}

// medianRun returns the run of subject at size expired whose total time is
// the median (the lower one of an even count).
func medianRun(rs []result, expired int, subject string) (result, bool) {
	c := runs(rs, expired, subject)
	if len(c) == 0 {
		return result{}, false
	}
	slices.SortFunc(c, func(a, b result) int { return int(a.total - b.total) })
	return c[(len(c)-1)/2], true
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
