// Command reliability measures the figures of docs/reliability.md: the
// session package's reliability workloads (contention on one session,
// stale saves, destroy-versus-save races, many sessions at once, SQLite
// under mixed load, calls blocked by a lock, the random cleanup failing, a
// PostgreSQL server stopped hard, the cleanup of a large table) at the
// loads the document reports, through the library's public API. It prints
// one markdown table per figure on standard output and its progress on
// standard error.
//
// The tests in package session run the same workloads at smaller, fixed
// loads and assert their invariants; this command measures. It still
// checks the invariants it can see (no lost update, no resurrection, no
// error where none is allowed) and exits with status 1 when one failed or
// a run could not be made.
//
// Usage:
//
//	go run ./cmd/reliability [-dbs postgres,sqlite,mysql] [-scale 1] [-figures all] [-pgbin dir]
//
// Run it from the bench directory. -scale multiplies every operation
// count, trial count and row count (not the number of goroutines, which
// sets the contention); 1 is the load of the document's figures. The
// databases are found as the rest of the bench module finds them (see
// bench.EnvFromEnvironment): GORMSESSION_TEST_POSTGRES_DSN and
// GORMSESSION_TEST_MYSQL_DSN, overridden by BENCH_POSTGRES_DSN and
// BENCH_MYSQL_SERVER. Every figure works in a namespace of its own
// (bench_gs_<pid>_rel_<figure>), dropped afterwards; SQLite files go to a
// temporary directory under BENCH_DIR (default: the system's).
//
// The hardstop figure starts a private PostgreSQL server (initdb, pg_ctl
// and postgres from -pgbin, or from PATH) in a temporary directory on a
// free port of 127.0.0.1, and stops it with pg_ctl stop -m immediate in
// the middle of the load; it runs when postgres is among -dbs and is
// skipped when the binaries are not found. The cleanup figure runs on
// PostgreSQL only.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gormsession/gormsession/bench"
)

// A figure is one table of docs/reliability.md and the run that measures it.
type figure struct {
	name    string // its -figures name
	title   string // with %s for the load, filled by load
	load    func(r *runner) string
	columns []string
	run     func(ctx context.Context, r *runner) [][]string
}

func figures() []figure {
	return []figure{
		updateFigure, staleFigure, destroyFigure, manyFigure, sqliteFigure,
		timeoutFigure, cleanupFailFigure, hardStopFigure, cleanupFigure,
	}
}

func main() {
	var names []string
	for _, f := range figures() {
		names = append(names, f.name)
	}
	dbs := flag.String("dbs", "postgres,sqlite,mysql", "databases, comma-separated")
	scale := flag.Float64("scale", 1, "multiplies operation, trial and row counts (1: the loads of docs/reliability.md)")
	which := flag.String("figures", "all", "figures to measure, comma-separated: all or "+strings.Join(names, ","))
	pgbin := flag.String("pgbin", "", "directory of initdb, pg_ctl and postgres for the hardstop figure (default: found on PATH)")
	flag.Parse()
	if *scale <= 0 {
		log.Fatalf("-scale must be positive")
	}
	asked := strings.Split(*which, ",")
	for _, a := range asked {
		if a != "all" && !slices.Contains(names, a) {
			log.Fatalf("-figures: unknown figure %q (want all or %s)", a, strings.Join(names, ","))
		}
	}
	var want []figure
	for _, f := range figures() {
		if slices.Contains(asked, "all") || slices.Contains(asked, f.name) {
			want = append(want, f)
		}
	}
	r := &runner{env: bench.EnvFromEnvironment(), scale: *scale, pgbin: *pgbin}
	for _, d := range strings.Split(*dbs, ",") {
		switch d = strings.TrimSpace(d); d {
		case bench.Postgres, bench.SQLite, bench.MySQL:
			r.dbs = append(r.dbs, d)
		default:
			log.Fatalf("-dbs: unknown database %q (want postgres, sqlite, mysql)", d)
		}
	}
	dir, err := os.MkdirTemp(r.env.Dir, "gormsession-reliability-")
	if err != nil {
		log.Fatal(err)
	}
	r.dir = dir
	r.atExit(func() { _ = os.RemoveAll(dir) })

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		r.cleanup()
		log.Fatal("interrupted; namespaces, files and servers removed")
	}()

	fmt.Printf("# Reliability figures\n\n%s, %s %s/%s, %d CPUs, scale %g, databases %s\n",
		time.Now().Format("2006-01-02 15:04 MST"), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), r.scale, strings.Join(r.dbs, ", "))
	ctx := context.Background()
	for _, f := range want {
		title := f.title
		if f.load != nil {
			title = fmt.Sprintf(title, f.load(r))
		}
		log.Printf("%s: %s", f.name, title)
		start := time.Now()
		rows := f.run(ctx, r)
		fmt.Printf("\n## %s: %s\n\n", f.name, title)
		if len(rows) == 0 {
			fmt.Println("(nothing measured: no database of -dbs applies)")
		} else {
			printTable(f.columns, rows)
		}
		log.Printf("%s: done in %v", f.name, time.Since(start).Round(time.Millisecond))
	}
	r.cleanup()
	if len(r.notes) > 0 {
		fmt.Printf("\n## Notes\n\n")
		for _, n := range r.notes {
			fmt.Println("- " + n)
		}
	}
	if len(r.problems) > 0 {
		fmt.Printf("\n## Problems\n\n")
		for _, p := range r.problems {
			fmt.Println("- " + p)
		}
		os.Exit(1)
	}
}

// runner is what every figure's run needs.
type runner struct {
	env   bench.Env
	dbs   []string
	scale float64
	pgbin string
	dir   string // SQLite files

	mu       sync.Mutex
	problems []string
	notes    []string
	exits    []func()
}

// n scales a count, keeping at least 1.
func (r *runner) n(full int) int {
	return max(1, int(float64(full)*r.scale+0.5))
}

// has reports whether db is among -dbs.
func (r *runner) has(db string) bool { return slices.Contains(r.dbs, db) }

// problem records a failed invariant or a run that could not be made; the
// command then exits with status 1.
func (r *runner) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.Print("PROBLEM: " + msg)
	r.mu.Lock()
	r.problems = append(r.problems, msg)
	r.mu.Unlock()
}

// note records something a reader of the figures should know that is not
// a failure of the library: a control that proved nothing at this load.
func (r *runner) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.Print("note: " + msg)
	r.mu.Lock()
	r.notes = append(r.notes, msg)
	r.mu.Unlock()
}

// atExit registers fn to run when the command ends or is interrupted,
// latest first.
func (r *runner) atExit(fn func()) {
	r.mu.Lock()
	r.exits = append(r.exits, fn)
	r.mu.Unlock()
}

func (r *runner) cleanup() {
	r.mu.Lock()
	exits := r.exits
	r.exits = nil
	r.mu.Unlock()
	for i := len(exits) - 1; i >= 0; i-- {
		exits[i]()
	}
}

// each runs fn once per database of -dbs on a fresh target and returns
// one row per database: fn's cells after the database's name, or the
// error.
func (r *runner) each(ctx context.Context, fig string, ncols int, fn func(ctx context.Context, t *target) ([]string, error)) [][]string {
	var rows [][]string
	for _, d := range r.dbs {
		rows = append(rows, r.one(ctx, d, fig, ncols, fn))
	}
	return rows
}

func (r *runner) one(ctx context.Context, d, fig string, ncols int, fn func(ctx context.Context, t *target) ([]string, error)) []string {
	t, err := r.open(ctx, d, fig)
	if err == nil {
		var cells []string
		cells, err = fn(ctx, t)
		t.close(ctx)
		if err == nil {
			return append([]string{d}, cells...)
		}
	}
	r.problem("%s on %s: %v", fig, d, err)
	row := []string{d, "error: " + oneLine(err.Error())}
	for len(row) < ncols {
		row = append(row, "")
	}
	return row
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", "/")
}

// printTable prints a markdown table.
func printTable(columns []string, rows [][]string) {
	fmt.Println("| " + strings.Join(columns, " | ") + " |")
	fmt.Println(strings.Repeat("| --- ", len(columns)) + "|")
	for _, row := range rows {
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
}

// count formats n with thousands separators: 6,400.
func count[N ~int | ~int64](n N) string {
	s := fmt.Sprint(int64(n))
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// dur formats d with three significant digits: 148 µs, 3.10 ms, 5.65 s.
func dur(d time.Duration) string {
	sig := func(v float64, unit string) string {
		switch {
		case v >= 100:
			return fmt.Sprintf("%.0f %s", v, unit)
		case v >= 10:
			return fmt.Sprintf("%.1f %s", v, unit)
		default:
			return fmt.Sprintf("%.2f %s", v, unit)
		}
	}
	switch {
	case d < time.Millisecond:
		return sig(float64(d)/float64(time.Microsecond), "µs")
	case d < time.Second:
		return sig(float64(d)/float64(time.Millisecond), "ms")
	case d < 2*time.Minute:
		return sig(d.Seconds(), "s")
	default:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
}

// rate formats n per d as an integer rate.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return count(int64(float64(n)/d.Seconds() + 0.5))
}
