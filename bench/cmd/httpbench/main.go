// Command httpbench measures what one HTTP request costs through each
// session manager (issue 13, part 2): sessionhttp over gormsession, scs's
// LoadAndSave over its database stores and its gormstore (with and without
// an idle timeout), and gorilla/sessions over wader/gormstore, each driven
// through its ServeHTTP with real Cookie and Set-Cookie headers, for four
// scenarios: an anonymous visitor who never writes, a signed-in read, a
// write, and 32 concurrent clients doing nine reads to one write.
//
// Subjects run interleaved (the order rotates every pass); every figure is a
// ratio to the fastest peer (another library's manager) on the same
// database, scenario and pass. It writes results/http.csv and the report
// docs/perf-http.md (bench/run.sh runs it from bench/):
//
//	go run ./cmd/httpbench -dbs postgres,sqlite,mysql -passes 5 -benchtime 1s -out results
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gormsession/gormsession/bench"
)

// Sample is one benchmark run of one subject.
type Sample struct {
	Pass               int
	DB, Scenario, Name string
	Peer, GORM         bool
	NsPerReq           float64
	BytesPerReq        float64
	AllocsPerReq       float64
	CPUPerReq          float64 // process CPU ns per request (0: not measured)
	N                  int
}

func main() {
	testing.Init()
	var (
		dbs       = flag.String("dbs", "postgres,sqlite,mysql", "databases, comma-separated")
		subjects  = flag.String("subjects", "", "subjects, comma-separated (default all)")
		scenarios = flag.String("scenarios", strings.Join(bench.HTTPScenarios, ","), "scenarios, comma-separated")
		passes    = flag.Int("passes", 5, "passes over every subject")
		benchtime = flag.String("benchtime", "1s", "time per benchmark run")
		sessions  = flag.Int("sessions", 10000, "signed-in sessions seeded per store")
		out       = flag.String("out", "results", "directory for http.csv")
		mdOut     = flag.String("md", "../docs/perf-http.md", "write the report (markdown) here; empty: none")
		notes     = flag.String("notes", "cmd/httpbench/notes.md", "markdown appended to the report (the hand-kept analysis); empty: none")
		keep      = flag.Bool("keep", false, "keep the bench_gs_* namespaces afterwards")
		jsonOut   = flag.String("json", "", "also write every sample to this file")
		render    = flag.String("render", "", "run nothing: rewrite the CSV and report from the samples of earlier -json files, comma-separated (the last is reported, the others shown beside its targets)")
	)
	flag.Parse()
	if err := flag.Set("test.benchtime", *benchtime); err != nil {
		log.Fatal(err)
	}
	if *sessions < 64 {
		log.Fatal("-sessions must be at least 64 (32 clients need sessions of their own)")
	}
	dbList := strings.Split(*dbs, ",")
	scList := strings.Split(*scenarios, ",")
	if *render != "" {
		// The last file is the run reported; earlier ones are shown beside
		// it in the targets table.
		var runs []savedRun
		for _, f := range strings.Split(*render, ",") {
			b, err := os.ReadFile(f)
			if err != nil {
				log.Fatal(err)
			}
			var saved savedRun
			if err := json.Unmarshal(b, &saved); err != nil {
				log.Fatalf("%s: %v", f, err)
			}
			runs = append(runs, saved)
		}
		write(runs[len(runs)-1], runs[:len(runs)-1], *out, *mdOut, *notes)
		return
	}
	ctx := context.Background()
	env := bench.EnvFromEnvironment()
	env.RunID += "h"
	var want func(string) bool
	if *subjects != "" {
		set := map[string]bool{"none": true}
		for _, s := range strings.Split(*subjects, ",") {
			set[s] = true
		}
		want = func(s string) bool { return set[s] }
	}
	load0 := loadavg()
	start := time.Now()

	var mu sync.Mutex
	fixtures := map[string][]*bench.HTTPFixture{}
	dropAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, fs := range fixtures {
			for _, f := range fs {
				if err := f.Close(context.Background(), *keep); err != nil {
					log.Printf("close: %v", err)
				}
			}
		}
		fixtures = map[string][]*bench.HTTPFixture{}
	}
	die := func(format string, args ...any) {
		dropAll()
		log.Fatalf(format, args...)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		die("interrupted; namespaces dropped")
	}()
	defer dropAll()

	type run struct {
		f *bench.HTTPFixture
		h *bench.HTTPSubject
	}
	runs := map[string][]run{}
	for _, db := range dbList {
		t := time.Now()
		fs, err := bench.NewHTTPFixtures(ctx, env, db, *sessions, want)
		if err != nil {
			die("%v", err)
		}
		mu.Lock()
		fixtures[db] = fs
		mu.Unlock()
		for _, f := range fs {
			for _, h := range f.Subjects {
				runs[db] = append(runs[db], run{f, h})
			}
		}
		log.Printf("seeded %s: %d subjects, %d sessions per store, in %v", db, len(runs[db]), *sessions, time.Since(t).Round(time.Millisecond))
	}

	var samples []Sample
	for pass := 0; pass < *passes; pass++ {
		for _, db := range dbList {
			rs := runs[db]
			for _, sc := range scList {
				// Rotate the order every pass so that no subject always
				// runs first or right after the same neighbour.
				for k := range rs {
					r := rs[(k+pass)%len(rs)]
					res := testing.Benchmark(bench.HTTPBench(ctx, sc, r.h))
					r.f.Release()
					if res.N == 0 {
						die("%s/%s/%s failed (see the log above)", db, sc, r.h.Name)
					}
					s := Sample{Pass: pass, DB: db, Scenario: sc, Name: r.h.Name, Peer: r.h.Peer, GORM: r.h.GORM, N: res.N,
						NsPerReq:     float64(res.T.Nanoseconds()) / float64(res.N),
						BytesPerReq:  float64(res.MemBytes) / float64(res.N),
						AllocsPerReq: float64(res.MemAllocs) / float64(res.N), CPUPerReq: res.Extra[bench.CPUMetric]}
					samples = append(samples, s)
					// Go benchmark format, for benchstat.
					fmt.Printf("BenchmarkHTTP/%s/%s/%s/pass%d \t%d\t%.0f ns/op\t%.0f %s\t%.0f B/op\t%.0f allocs/op\n",
						db, sc, s.Name, pass+1, s.N, s.NsPerReq, s.CPUPerReq, bench.CPUMetric, s.BytesPerReq, s.AllocsPerReq)
				}
			}
		}
	}
	dropAll()
	saved := savedRun{DBs: dbList, Scenarios: scList, Samples: samples, Passes: *passes, Benchtime: *benchtime, Sessions: *sessions,
		Start: start, Load0: load0, Load1: loadavg(), Took: time.Since(start)}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(saved, "", " ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write(saved, nil, *out, *mdOut, *notes)
}

// savedRun is a whole run, for -json and -render.
type savedRun struct {
	DBs, Scenarios   []string
	Samples          []Sample
	Passes, Sessions int
	Benchtime        string
	Start            time.Time
	Load0, Load1     string
	Took             time.Duration
}

// write writes results/http.csv and the report of a run.
func write(run savedRun, earlier []savedRun, out, mdOut, notes string) {
	rep := analyse(run.Samples, run.DBs, run.Scenarios)
	var others []other
	for _, e := range earlier {
		others = append(others, other{label: "run of " + e.Start.UTC().Format("15:04 UTC"), rep: analyse(e.Samples, e.DBs, e.Scenarios)})
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		log.Fatal(err)
	}
	csvPath := filepath.Join(out, "http.csv")
	if err := os.WriteFile(csvPath, []byte(rep.csv()), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s", csvPath)
	if mdOut != "" {
		var tail string
		if notes != "" {
			b, err := os.ReadFile(notes)
			if err != nil {
				log.Fatal(err)
			}
			tail = "\n" + string(b)
		}
		meta := meta{passes: run.Passes, benchtime: run.Benchtime, sessions: run.Sessions, start: run.Start, load0: run.Load0,
			load1: run.Load1, took: run.Took}
		if err := os.WriteFile(mdOut, []byte(rep.markdown(meta, others)+tail), 0o644); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", mdOut)
	}
	for _, line := range rep.verdicts() {
		log.Print(line)
	}
}

// loadavg returns the machine's 1, 5 and 15 minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
