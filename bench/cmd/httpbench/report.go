package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gormsession/gormsession/bench"
)

// stat is one subject on one database and scenario, over every pass.
type stat struct {
	db, sc, name string
	peer, gorm   bool
	ns, allocs   []float64 // per pass
	bytes        []float64
	ratio        []float64 // per pass, to that pass's fastest peer
	cpu          []float64 // process CPU ns per request, per pass
	cpuRatio     []float64 // per pass, to that pass's least CPU of any peer
}

func (s *stat) medNs() float64     { return median(s.ns) }
func (s *stat) medAllocs() float64 { return median(s.allocs) }
func (s *stat) medBytes() float64  { return median(s.bytes) }

type report struct {
	dbs, scs []string
	// stats[db][sc] in subject order.
	stats map[string]map[string][]*stat
}

func analyse(samples []Sample, dbs, scs []string) *report {
	r := &report{dbs: dbs, scs: scs, stats: map[string]map[string][]*stat{}}
	idx := map[string]*stat{}
	fastest := map[string]float64{}  // db/sc/pass -> fastest peer's ns
	leastCPU := map[string]float64{} // db/sc/pass -> least CPU of a peer
	for _, s := range samples {
		k := fmt.Sprint(s.DB, "/", s.Scenario, "/", s.Pass)
		if s.Peer && (fastest[k] == 0 || s.NsPerReq < fastest[k]) {
			fastest[k] = s.NsPerReq
		}
		if s.Peer && s.CPUPerReq > 0 && (leastCPU[k] == 0 || s.CPUPerReq < leastCPU[k]) {
			leastCPU[k] = s.CPUPerReq
		}
	}
	for _, s := range samples {
		k := s.DB + "/" + s.Scenario + "/" + s.Name
		st := idx[k]
		if st == nil {
			st = &stat{db: s.DB, sc: s.Scenario, name: s.Name, peer: s.Peer, gorm: s.GORM}
			idx[k] = st
			if r.stats[s.DB] == nil {
				r.stats[s.DB] = map[string][]*stat{}
			}
			r.stats[s.DB][s.Scenario] = append(r.stats[s.DB][s.Scenario], st)
		}
		st.ns = append(st.ns, s.NsPerReq)
		st.allocs = append(st.allocs, s.AllocsPerReq)
		st.bytes = append(st.bytes, s.BytesPerReq)
		k = fmt.Sprint(s.DB, "/", s.Scenario, "/", s.Pass)
		if f := fastest[k]; f > 0 {
			st.ratio = append(st.ratio, s.NsPerReq/f)
		}
		if s.CPUPerReq > 0 {
			st.cpu = append(st.cpu, s.CPUPerReq)
			if f := leastCPU[k]; f > 0 {
				st.cpuRatio = append(st.cpuRatio, s.CPUPerReq/f)
			}
		}
	}
	for _, m := range r.stats {
		for _, ss := range m {
			slices.SortStableFunc(ss, func(a, b *stat) int { return order(a.name) - order(b.name) })
		}
	}
	return r
}

// order puts "none" first, ours second, then the peers as listed.
func order(name string) int {
	switch {
	case name == "none":
		return 0
	case name == "ours":
		return 1
	case strings.HasPrefix(name, "scs_gorm"):
		return 4
	case strings.HasPrefix(name, "scs_"):
		return 2
	default:
		return 6
	}
}

// fastestPeer returns the peer with the lowest median time.
func (r *report) fastestPeer(db, sc string) *stat {
	var best *stat
	for _, s := range r.stats[db][sc] {
		if s.peer && (best == nil || s.medNs() < best.medNs()) {
			best = s
		}
	}
	return best
}

func (r *report) get(db, sc, name string) *stat {
	for _, s := range r.stats[db][sc] {
		if s.name == name {
			return s
		}
	}
	return nil
}

// bestOf is the best-of-N ratio of s to the fastest peer: s's lowest time
// over the lowest time of any peer.
func (r *report) bestOf(s *stat) float64 {
	low := math.Inf(1)
	for _, p := range r.stats[s.db][s.sc] {
		if p.peer {
			low = min(low, slices.Min(p.ns))
		}
	}
	return slices.Min(s.ns) / low
}

// allocRatio is s's median allocations over the fewest of any peer.
func (r *report) allocRatio(s *stat) float64 {
	low := math.Inf(1)
	for _, p := range r.stats[s.db][s.sc] {
		if p.peer {
			low = min(low, p.medAllocs())
		}
	}
	return s.medAllocs() / low
}

// lead is how many times slower GORM peer g is than ours: the median of the
// per-pass ratios, and best-of-N (g's lowest over ours' lowest).
func lead(ours, g *stat) (med, best float64) {
	var rs []float64
	for i := range min(len(ours.ns), len(g.ns)) {
		rs = append(rs, g.ns[i]/ours.ns[i])
	}
	return median(rs), slices.Min(g.ns) / slices.Min(ours.ns)
}

func (r *report) csv() string {
	var b strings.Builder
	b.WriteString("scenario,db,subject,ns_per_req,allocs_per_req,bytes_per_req,ratio_to_fastest,ratio_min,ratio_max,ratio_best_of_n,allocs_ratio_to_fewest,cpu_ns_per_req,cpu_ratio_to_least\n")
	for _, sc := range r.scs {
		for _, db := range r.dbs {
			for _, s := range r.stats[db][sc] {
				fmt.Fprintf(&b, "%s,%s,%s,%.0f,%.1f,%.0f,%.3f,%.3f,%.3f,%.3f,%.3f,%s,%s\n", sc, db, s.name, s.medNs(), s.medAllocs(), s.medBytes(),
					median(s.ratio), slices.Min(s.ratio), slices.Max(s.ratio), r.bestOf(s), r.allocRatio(s),
					orEmpty(median(s.cpu), "%.0f"), orEmpty(median(s.cpuRatio), "%.3f"))
			}
		}
	}
	return b.String()
}

var dbTitle = map[string]string{"postgres": "PostgreSQL", "sqlite": "SQLite (file, WAL)", "mysql": "MariaDB"}

var scTitle = map[string]string{
	"anon":  "(a) anonymous visitor, never writes",
	"read":  "(b) signed-in, read-only",
	"write": "(c) signed-in, changes the payload",
	"mix32": "(d) 32 concurrent clients, 90% reads / 10% writes, each on its own session",
}

// target is one line of the targets table.
type target struct {
	what, measured string
	short          string // the median alone, for the other runs' column
	met, bestMet   bool
}

func (r *report) targets() []target {
	var ts []target
	for _, sc := range r.scs {
		for _, db := range r.dbs {
			ours, fp := r.get(db, sc, "ours"), r.fastestPeer(db, sc)
			if ours == nil || fp == nil {
				continue
			}
			limit := 1.0
			if sc == "write" || sc == "mix32" {
				limit = 1.15
			}
			m, best := median(ours.ratio), r.bestOf(ours)
			ts = append(ts, target{
				what: fmt.Sprintf("%s on %s: ours ≤ %.2f× the fastest peer's time", scShort(sc), dbTitle[db], limit),
				measured: fmt.Sprintf("%.2f× (%.2f–%.2f), best-of-%d %.2f×; fastest peer %s; allocations %.0f vs %.0f (%.2f× the fewest)%s",
					m, slices.Min(ours.ratio), slices.Max(ours.ratio), len(ours.ns), best, fp.name, ours.medAllocs(), fp.medAllocs(), r.allocRatio(ours), cpuNote(ours)),
				short: fmt.Sprintf("%.2f×", m), met: m <= limit, bestMet: best <= limit,
			})
			if sc != "write" && sc != "mix32" {
				continue
			}
			for _, g := range r.stats[db][sc] {
				if !g.gorm {
					continue
				}
				med, best := lead(ours, g)
				ts = append(ts, target{
					what:     fmt.Sprintf("%s on %s: ours ≥ 1.5× faster than %s", scShort(sc), dbTitle[db], g.name),
					measured: fmt.Sprintf("%.2f× faster (best-of-%d %.2f×)", med, len(ours.ns), best),
					short:    fmt.Sprintf("%.2f× faster", med), met: med >= 1.5, bestMet: best >= 1.5,
				})
			}
		}
	}
	return ts
}

func scShort(sc string) string {
	return map[string]string{"anon": "(a) anonymous", "read": "(b) read", "write": "(c) write", "mix32": "(d) mix ×32"}[sc]
}

func (t target) verdict() string {
	switch {
	case t.met:
		return "met"
	case t.bestMet:
		return "**missed** (median; best-of-N meets it)"
	default:
		return "**missed**"
	}
}

func (r *report) verdicts() []string {
	var out []string
	for _, t := range r.targets() {
		out = append(out, fmt.Sprintf("%-70s %s: %s", t.what, t.measured, t.verdict()))
	}
	return out
}

type meta struct {
	passes       int
	benchtime    string
	sessions     int
	start        time.Time
	load0, load1 string
	took         time.Duration
}

// other is an earlier run shown beside this one in the targets table.
type other struct {
	label string
	rep   *report
}

func (r *report) markdown(m meta, others []other) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Performance: the cost of one HTTP request\n\n")
	w("Generated by `bench/cmd/httpbench` (run by `bench/run.sh`); do not edit by hand. The numbers behind it are in `bench/results/http.csv`, the chart in [img/http-cost.png](img/http-cost.png).\n\n")
	w("![per-request cost, ratio to the fastest peer](img/http-cost.png)\n\n")
	w("## Yardstick\n\n")
	w("Each subject is a session manager in front of the same small handler, driven in process through its `ServeHTTP` with an `httptest` request and recorder: the client sends the session cookie it holds and takes the one `Set-Cookie` gives back, as a browser does (no network, no TLS). One op is one request; its time and allocations are everything the request costs in this process: the harness (request, recorder, cookie parsing), the middleware, the codec, the driver and GORM where used (subject `none`, a handler without sessions, measures the harness alone). The database server's own work counts in the time only.\n\n")
	w("Every figure is a **ratio to the fastest peer** (another library's manager) measured on the same database, scenario and pass: the median over %d passes with the lowest and highest in brackets, then the best-of-%d ratio (each subject's best pass over the best pass of any peer). Lower is better; 1.00 is the fastest peer. Subjects run interleaved, the order rotating every pass, with `-benchtime %s` per run and %d signed-in sessions seeded per store. Same payload for all (`bench/payload.go`, %d bytes as JSON); each library encodes it with its default codec (ours JSON, scs and gorilla gob).\n\n",
		m.passes, m.passes, m.benchtime, m.sessions, bench.PayloadSize())
	w("Scenarios: %s; %s; %s; %s.\n\n", scTitle["anon"], scTitle["read"], scTitle["write"], scTitle["mix32"])
	w("## Machine\n\n")
	w("- Date: %s; run took %v.\n", m.start.UTC().Format("2006-01-02 15:04 UTC"), m.took.Round(time.Second))
	w("- Load average at start: %s; at the end: %s (a shared machine: other work ran on the same cores, which is why only ratios within a pass are reported).\n", m.load0, m.load1)
	w("- CPU: %s, %d cores; %s %s/%s.\n", cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	w("- Connection pools: 32 on PostgreSQL and MariaDB, 8 on SQLite, the same for every subject; MariaDB DSNs use interpolateParams=true for all.\n\n")
	w("## Subjects\n\n")
	w("| subject | what |\n| --- | --- |\n")
	w("| none | no session manager: the handler alone; the harness's own cost per request (not a peer) |\n")
	w("| ours | gormsession `sessionhttp.New(container)` with its defaults: `Manager.Handler` around the handler, `Session` to read, `Update` to write |\n")
	w("| scs_pgxstore, scs_sqlite3store, scs_mysqlstore | github.com/alexedwards/scs/v2 `LoadAndSave` over the named store, no idle timeout (scs's default): `Get` to read, `Put` to write |\n")
	w("| scs_gormstore | the same over scs's gormstore (GORM) |\n")
	w("| …_idle | the same manager with `IdleTimeout` = %v: scs then stores the session on every request that loads one, reads included |\n", 30*time.Minute)
	w("| wader_gormstore | gorilla/sessions with github.com/wader/gormstore/v2 (GORM): `store.Get` in the handler, `Save` only after a change |\n\n")
	w("## Targets\n\n")
	if len(others) > 0 {
		w("The first columns are this run's; the last gives the same target in the other runs of the same day on this machine (median and verdict), to show which verdicts hold from run to run and which the machine's load decides.\n\n")
		w("| target | measured (median of %d, min–max) | verdict | other runs |\n| --- | --- | --- | --- |\n", m.passes)
	} else {
		w("| target | measured (median of %d, min–max) | verdict |\n| --- | --- | --- |\n", m.passes)
	}
	for _, t := range r.targets() {
		w("| %s | %s | %s |", t.what, t.measured, t.verdict())
		if len(others) > 0 {
			var cells []string
			for _, o := range others {
				for _, ot := range o.rep.targets() {
					if ot.what == t.what {
						v := "met"
						if !ot.met {
							v = "missed"
						}
						cells = append(cells, fmt.Sprintf("%s: %s, %s", o.label, ot.short, v))
					}
				}
			}
			w(" %s |", strings.Join(cells, "; "))
		}
		w("\n")
	}
	w("\n## Results\n\n")
	w("Each cell: time ratio to the fastest peer, median (min–max), best-of-%d; then the median time per request and allocations per request (with bytes); then, where measured, the process's CPU time per request (every thread of the benchmark process: handler, GC, driver, an in-process SQLite; not a database server's) and its ratio to the least CPU of any peer, a figure a busy neighbour inflates far less than wall time.\n", m.passes)
	for _, sc := range r.scs {
		w("\n### %s\n\n", scTitle[sc])
		w("| subject |")
		for _, db := range r.dbs {
			w(" %s |", dbTitle[db])
		}
		w("\n| --- |")
		for range r.dbs {
			w(" --- |")
		}
		w("\n")
		var names []string
		for _, db := range r.dbs {
			for _, s := range r.stats[db][sc] {
				if !slices.Contains(names, s.name) {
					names = append(names, s.name)
				}
			}
		}
		slices.SortStableFunc(names, func(a, b string) int { return order(a) - order(b) })
		for _, n := range names {
			w("| %s |", n)
			for _, db := range r.dbs {
				s := r.get(db, sc, n)
				if s == nil {
					w(" – |")
					continue
				}
				cpu := ""
				if len(s.cpu) > 0 {
					cpu = fmt.Sprintf("; CPU %s", dur(median(s.cpu)))
					if len(s.cpuRatio) > 0 {
						cpu += fmt.Sprintf(" (%.2f×)", median(s.cpuRatio))
					}
				}
				w(" %.2f (%.2f–%.2f), best %.2f; %s, %.0f allocs (%.1f kB)%s |", median(s.ratio), slices.Min(s.ratio), slices.Max(s.ratio),
					r.bestOf(s), dur(s.medNs()), s.medAllocs(), s.medBytes()/1000, cpu)
			}
			w("\n")
		}
	}
	w("\n## How to rerun\n\n```sh\ncd bench\ngo run ./cmd/httpbench -dbs postgres,sqlite,mysql -passes %d -benchtime %s -out results\ngo run ./cmd/plots -results results -img ../docs/img\n", m.passes, m.benchtime)
	w("go test -run '^$' -bench 'HTTP/postgres/ours/read' -benchmem -cpuprofile cpu.out -memprofile mem.out  # profile one subject\n```\n\n")
	w("Standard output of `httpbench` has every run in Go benchmark format (`BenchmarkHTTP/<db>/<scenario>/<subject>/pass<n>`), for `benchstat`.\n")
	return b.String()
}

// orEmpty formats v, or gives "" when it was not measured (NaN).
func orEmpty(v float64, format string) string {
	if math.IsNaN(v) {
		return ""
	}
	return fmt.Sprintf(format, v)
}

// cpuNote is the CPU figure of s for the tables, or "" when not measured.
func cpuNote(s *stat) string {
	if len(s.cpuRatio) == 0 {
		return ""
	}
	return fmt.Sprintf("; CPU %s per request, %.2f× the least of a peer", dur(median(s.cpu)), median(s.cpuRatio))
}

func dur(ns float64) string {
	if ns >= 1e6 {
		return fmt.Sprintf("%.2f ms", ns/1e6)
	}
	return fmt.Sprintf("%.1f µs", ns/1e3)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.IndexByte(line, ':'); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return "unknown CPU"
}
