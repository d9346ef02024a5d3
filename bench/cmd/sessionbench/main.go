// Command sessionbench runs the gormsession benchmark: workloads (a)-(e) on
// PostgreSQL, SQLite and MySQL/MariaDB for every subject, interleaved over
// several passes, and writes a report whose every figure is a ratio to the
// hand-written baseline of the same pass.
//
// bench/run.sh builds and runs it; -guard runs the short regression pass of
// .ci/steps/50-bench-guard.sh (guard.go): it first checks gormsession's
// allocations and statements per operation against guard_expected.txt,
// exactly (exact.go), then its time ratios to the baseline with a method
// that tolerates a busy machine (best of several interleaved passes, and a
// rerun before failing), and exits 1 on a changed count or a clear time
// regression. -guard-update records the exact counts.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"maps"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gormsession/gormsession/bench"
)

// Sample is one benchmark run.
type Sample struct {
	Pass     int     `json:"pass"`
	DB       string  `json:"db"`
	Workload string  `json:"workload"`
	Subject  string  `json:"subject"`
	NsPerOp  float64 `json:"ns_op"`
	BPerOp   float64 `json:"b_op"`
	Allocs   float64 `json:"allocs_op"`
	N        int     `json:"n"`
	// Cleanup (e) only.
	Deleted   int64   `json:"deleted,omitempty"`
	TookMs    float64 `json:"took_ms,omitempty"`
	WriterMax float64 `json:"writer_max_ms,omitempty"`
	WriterP99 float64 `json:"writer_p99_ms,omitempty"`
	Writes    int     `json:"writes,omitempty"`
}

func main() {
	testing.Init()
	var (
		dbs       = flag.String("dbs", "postgres,sqlite,mysql", "databases, comma-separated")
		subjects  = flag.String("subjects", "", "subjects, comma-separated (default all)")
		workloads = flag.String("workloads", "create,load,save,mix8,mix32,cleanup", "workloads")
		passes    = flag.Int("passes", 5, "passes over every subject")
		cpasses   = flag.Int("cleanup-passes", 3, "run the cleanup workload in the first n passes only")
		analysis  = flag.String("notes", "", "markdown file appended to the report (the hand-kept analysis)")
		benchtime = flag.String("benchtime", "1s", "time per benchmark run")
		sessions  = flag.Int("sessions", 100000, "live sessions seeded per subject")
		expired   = flag.Int("expired", 100000, "expired sessions per cleanup run")
		jsonOut   = flag.String("json", "", "write every sample to this file")
		mdOut     = flag.String("md", "", "write the report (markdown) to this file")
		meta      = flag.String("meta", "", "file with machine and version notes for the report")
		guard     = flag.Bool("guard", false, "regression guard: exact counts, then time ratios; exit 1 on a changed count or a clear regression")
		update    = flag.Bool("guard-update", false, "measure the exact counts on -exact-dbs, write them to -expected and exit")
		expected  = flag.String("expected", "cmd/sessionbench/guard_expected.txt", "the guard's expected exact counts")
		exactDBs  = flag.String("exact-dbs", "postgres,sqlite,mysql", "databases of the guard's exact counts")
		rounds    = flag.Int("guard-rounds", 40, "guard: paired rounds per target (a rerun doubles them)")
		chunk     = flag.Duration("guard-chunk", 5*time.Millisecond, "guard: the baseline's time per chunk of a paired round")
		budget    = flag.Duration("guard-budget", 4*time.Second, "guard: time per target after which no new round starts (at least 15 rounds)")
		paired    = flag.String("paired", "", "instead of passes, compare ours with these baselines (comma-separated, e.g. raw,rawblob) in paired chunks as the guard does, and print a markdown table")
		keep      = flag.Bool("keep", false, "keep the bench_gs_* namespaces afterwards")
	)
	flag.Parse()
	if err := flag.Set("test.benchtime", *benchtime); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	env := bench.EnvFromEnvironment()
	exactOK := true
	if *guard || *update {
		t := time.Now()
		edbs := strings.Split(*exactDBs, ",")
		got := map[exactKey]exactCounts{}
		raw := map[exactKey][2]float64{}
		for _, db := range edbs {
			g, r, err := measureExact(ctx, env, db)
			if err != nil {
				log.Fatalf("exact counts: %v", err)
			}
			maps.Copy(got, g)
			maps.Copy(raw, r)
		}
		if *update {
			if err := writeExpected(*expected, got); err != nil {
				log.Fatal(err)
			}
			checkExact(os.Stdout, edbs, got, raw, got, *expected)
			log.Printf("wrote %s", *expected)
			return
		}
		want, err := readExpected(*expected)
		if err != nil {
			log.Fatalf("exact counts: %v", err)
		}
		exactOK = checkExact(os.Stdout, edbs, got, raw, want, *expected)
		log.Printf("exact counts measured in %v", time.Since(t).Round(time.Millisecond))
	}
	want := set(*subjects)
	wl := strings.Split(*workloads, ",")

	type fixture struct {
		f    bench.Factory
		ns   *bench.NS
		s    bench.Subject
		keys []string
	}
	fixtures := map[string][]*fixture{}
	dbList := strings.Split(*dbs, ",")
	// Interrupted: drop the namespaces made so far before going.
	var nsMu sync.Mutex
	var made []*bench.NS
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	// die drops the namespaces made so far (unless -keep) and exits.
	die := func(format string, args ...any) {
		if !*keep {
			nsMu.Lock()
			for _, ns := range made {
				_ = ns.Drop(context.Background())
			}
			nsMu.Unlock()
		}
		log.Fatalf(format, args...)
	}
	go func() {
		<-sig
		die("interrupted; namespaces dropped")
	}()
	// dropAll closes every subject and drops its namespace (unless -keep);
	// deferred, and called before an exit with a status.
	dropAll := func() {
		if *keep {
			return
		}
		for _, fs := range fixtures {
			for _, fx := range fs {
				_ = fx.s.Close()
				if err := fx.ns.Drop(ctx); err != nil {
					log.Printf("drop %s: %v", fx.ns.Name, err)
				}
			}
		}
		fixtures = nil
	}
	defer dropAll()
	for _, db := range dbList {
		for _, f := range bench.Subjects() {
			if !f.Supports(db) || (len(want) > 0 && !want[f.Name]) {
				continue
			}
			t := time.Now()
			ns, err := env.Namespace(ctx, db, f.Name)
			if err != nil {
				die("%s/%s: namespace: %v", db, f.Name, err)
			}
			nsMu.Lock()
			made = append(made, ns)
			nsMu.Unlock()
			s, err := f.New(ctx, ns)
			if err != nil {
				die("%s/%s: %v", db, f.Name, err)
			}
			fx := &fixture{f: f, ns: ns, s: s}
			fixtures[db] = append(fixtures[db], fx)
			if err := s.Reset(ctx); err != nil {
				die("%s/%s: reset: %v", db, f.Name, err)
			}
			if fx.keys, err = s.Seed(ctx, *sessions, time.Now().Add(bench.Lifetime)); err != nil {
				die("%s/%s: seed: %v", db, f.Name, err)
			}
			ns.Release()
			log.Printf("seeded %s/%s with %d sessions in %v", db, f.Name, *sessions, time.Since(t).Round(time.Millisecond))
		}
	}

	// bench runs workload w of fx once and records the sample.
	var samples []Sample
	benchOne := func(pass int, db, w string, fx *fixture) Sample {
		r := testing.Benchmark(bench.Bench(ctx, w, fx.s, fx.keys))
		fx.ns.Release()
		if r.N == 0 {
			die("%s/%s/%s failed", db, fx.f.Name, w)
		}
		sm := Sample{Pass: pass, DB: db, Workload: w, Subject: fx.f.Name, N: r.N,
			NsPerOp: float64(r.T.Nanoseconds()) / float64(r.N),
			BPerOp:  float64(r.MemBytes) / float64(r.N), Allocs: float64(r.MemAllocs) / float64(r.N)}
		// Go benchmark format, for benchstat.
		fmt.Printf("Benchmark%s/%s/%s/%s \t%d\t%.0f ns/op\t%.0f B/op\t%.0f allocs/op\n",
			cap1(db), w, fx.f.Name, fmt.Sprint("pass", pass+1), sm.N, sm.NsPerOp, sm.BPerOp, sm.Allocs)
		return sm
	}
	lookup := func(db, subject string) (pairFixture, bool) {
		for _, fx := range fixtures[db] {
			if fx.f.Name == subject {
				return pairFixture{s: fx.s, keys: fx.keys, release: fx.ns.Release}, true
			}
		}
		return pairFixture{}, false
	}
	if *paired != "" {
		fmt.Printf("load average before: %s\n\n", loadavg())
		err := pairedReport(ctx, os.Stdout, dbList, wl, strings.Split(*paired, ","), lookup, *rounds, *chunk, *budget)
		if err != nil {
			die("paired: %v", err)
		}
		fmt.Printf("load average after: %s\n", loadavg())
		for _, op := range []string{bench.CodecDecode, bench.CodecEncode} {
			r := testing.Benchmark(bench.CodecBench(op))
			fmt.Printf("BenchmarkCodec/%s/json \t%d\t%d ns/op\t%d B/op\t%d allocs/op\n", op, r.N, r.NsPerOp(), r.AllocedBytesPerOp(), r.AllocsPerOp())
		}
		return
	}
	if *guard {
		// The guard times paired chunks instead of whole passes.
		*passes = 0
	}
	for pass := 0; pass < *passes; pass++ {
		if len(want) == 0 || want["rawblob"] {
			// The codec's cost on its own, which rawblob does not pay.
			for _, op := range []string{bench.CodecDecode, bench.CodecEncode} {
				r := testing.Benchmark(bench.CodecBench(op))
				sm := Sample{Pass: pass, DB: "codec", Workload: op, Subject: "json", N: r.N,
					NsPerOp: float64(r.T.Nanoseconds()) / float64(r.N),
					BPerOp:  float64(r.MemBytes) / float64(r.N), Allocs: float64(r.MemAllocs) / float64(r.N)}
				samples = append(samples, sm)
				fmt.Printf("BenchmarkCodec/%s/json/pass%d \t%d\t%.0f ns/op\t%.0f B/op\t%.0f allocs/op\n", op, pass+1, sm.N, sm.NsPerOp, sm.BPerOp, sm.Allocs)
			}
		}
		for _, db := range dbList {
			fs := fixtures[db]
			for _, w := range wl {
				// Rotate the order every pass so no subject always runs
				// first (cold) or right after a heavy neighbour.
				for k := range fs {
					fx := fs[(k+pass)%len(fs)]
					if w == "cleanup" {
						if pass >= *cpasses {
							continue
						}
						res, err := bench.RunCleanup(ctx, fx.s, fx.keys, *expired)
						if err == bench.ErrUnsupported {
							continue
						}
						if err != nil {
							die("%s/%s/cleanup: %v", db, fx.f.Name, err)
						}
						sm := Sample{Pass: pass, DB: db, Workload: w, Subject: fx.f.Name, NsPerOp: float64(res.Took.Nanoseconds()),
							Deleted: res.Deleted, TookMs: ms(res.Took), WriterMax: ms(res.WriterMax), WriterP99: ms(res.WriterP99), Writes: res.Writes}
						samples = append(samples, sm)
						fx.ns.Release()
						log.Printf("pass %d %s cleanup %-18s %8.1f ms  writer max %6.1f ms p99 %6.1f ms (%d writes)",
							pass+1, db, fx.f.Name, sm.TookMs, sm.WriterMax, sm.WriterP99, sm.Writes)
						continue
					}
					samples = append(samples, benchOne(pass, db, w, fx))
				}
			}
		}
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(samples, "", " ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			die("%v", err)
		}
	}
	rep := analyse(samples)
	if *mdOut != "" {
		var notes string
		if *meta != "" {
			b, err := os.ReadFile(*meta)
			if err != nil {
				die("%v", err)
			}
			notes = string(b)
		}
		var tail string
		if *analysis != "" {
			b, err := os.ReadFile(*analysis)
			if err != nil {
				die("%v", err)
			}
			tail = "\n" + string(b)
		}
		if err := os.WriteFile(*mdOut, []byte(rep.markdown(notes, dbList, wl, *passes, *benchtime, *sessions, *expired)+tail), 0o644); err != nil {
			die("%v", err)
		}
	}
	if *guard {
		timesOK, err := guardTimes(ctx, os.Stdout, wl, lookup, *rounds, *chunk, *budget)
		if err != nil {
			die("guard: %v", err)
		}
		if !exactOK || !timesOK {
			fmt.Println("guard: FAIL")
			dropAll()
			os.Exit(1)
		}
		fmt.Println("guard: ok")
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func cap1(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func set(csv string) map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Split(csv, ",") {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}
