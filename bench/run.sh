#!/usr/bin/env bash
# Runs the whole benchmark and writes docs/performance.md, then the HTTP
# benchmark (docs/perf-http.md), the cleanup and scale benchmarks when their
# commands are there, every CSV under bench/results/, and the figures
# under docs/img/ (cmd/plots).
#
#   bench/run.sh                      # 5 passes, 1s per run, 100k sessions
#   PASSES=3 BENCHTIME=500ms bench/run.sh
#   STEPS=http,plots bench/run.sh     # only some steps (store, http, cleanup, scale, plots)
#
# CLEANUP_PASSES (default 3) limits workload (e), the slowest to set up, to
# the first passes. The closing section of the report is bench/analysis.md,
# kept by hand.
#
# Needs PostgreSQL (127.0.0.1:5432, user postgres, database test, trust) and
# MariaDB/MySQL (127.0.0.1:3306, root, no password) running; .ci/run starts
# both. BENCH_POSTGRES_DSN / BENCH_MYSQL_SERVER point elsewhere. Every
# subject works in a namespace of its own (schema or database bench_gs_*,
# SQLite files in a temporary folder), dropped at the end.
#
# PIN=1 (off by default) pins the benchmark client to CPU 0 and the
# PostgreSQL server to CPU 1 with taskset for the run, which steadies
# single-connection latency on an otherwise idle machine; the old affinity
# is restored on exit. MariaDB is never pinned: with all of mariadbd's
# threads (io_uring workers included) on one CPU, InnoDB stalled for
# minutes on this machine.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$PATH"

PASSES=${PASSES:-5}
CLEANUP_PASSES=${CLEANUP_PASSES:-3}
BENCHTIME=${BENCHTIME:-1s}
SESSIONS=${SESSIONS:-100000}
EXPIRED=${EXPIRED:-100000}
PIN=${PIN:-0}
OUT=${OUT:-../docs/performance.md}
STEPS=${STEPS:-store,http,cleanup,scale,plots}
HTTP_SESSIONS=${HTTP_SESSIONS:-10000}
step() { [[ ",$STEPS," == *",$1,"* ]]; }

work=$(mktemp -d)
restore=()
cleanup() {
	if [ "${#restore[@]}" -gt 0 ]; then
		for cmd in "${restore[@]}"; do eval "$cmd" >/dev/null 2>&1 || true; done
		# Server processes forked during the run (new connections) inherited
		# the pinned mask: give every one of them all CPUs again.
		for pid in $(pgrep -x postgres || true); do
			taskset -a -p -c "0-$(($(nproc) - 1))" "$pid" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

if step store; then go build -o "$work/sessionbench" ./cmd/sessionbench; fi

client=()
pinning="none (PIN=1 pins the client and PostgreSQL)"
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	for pid in $(pgrep -x postgres || true); do
		old=$(taskset -p "$pid" 2>/dev/null | awk '{print $NF}') || continue
		taskset -a -p -c 1 "$pid" >/dev/null 2>&1 || continue
		restore+=("taskset -a -p $old $pid")
	done
	client=(taskset -c 0)
	pinning="benchmark client on CPU 0, PostgreSQL server on CPU 1 (taskset)"
fi

version() { "$@" 2>/dev/null | head -1 || echo unknown; }
pg=$(psql -h 127.0.0.1 -U postgres -tAc 'SHOW server_version' 2>/dev/null | head -1 || echo unknown)
my=$(mariadb -h 127.0.0.1 -u root -N -e 'SELECT VERSION()' 2>/dev/null || mysql -h 127.0.0.1 -u root -N -e 'SELECT VERSION()' 2>/dev/null || echo unknown)
mods=$(go list -deps -f '{{with .Module}}{{.Path}} {{.Version}}{{end}}' ./... 2>/dev/null | sort -u |
	grep -E '^(gorm.io/|github.com/(alexedwards|wader|jackc/pgx|mattn/go-sqlite3|go-sql-driver|gorilla/sessions))' | sed 's/^/  - /')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

cat >"$work/meta.md" <<META
## Machine and versions

- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start: ${load_start} (shared machine).
- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(uname -sr).
- Pinning: ${pinning}.
- $(go version | cut -d' ' -f3-4); PostgreSQL ${pg} (durable defaults); MariaDB ${my}; SQLite through mattn/go-sqlite3 (WAL, synchronous=NORMAL, busy timeout, immediate transactions).
- Cleanup (e) ran in the first ${CLEANUP_PASSES} passes (each seeds ${EXPIRED} expired sessions per subject).
- Connection pools: 32 on PostgreSQL and MariaDB, 8 on SQLite, the same for every subject; MySQL DSNs use interpolateParams=true for all.
- Modules:
${mods}

## How to rerun

\`\`\`sh
bench/run.sh                          # this report: ${PASSES} passes, -benchtime ${BENCHTIME}
PASSES=3 BENCHTIME=500ms bench/run.sh # quicker
cd bench && go test -run '^\$' -bench 'Store/sqlite/ours/load' -benchmem -cpuprofile cpu.out -memprofile mem.out
\`\`\`

The raw samples of a run in Go benchmark format go to standard output (one line per subject, workload and pass), so
\`benchstat\` can compare two runs.
META

if step store; then
	"${client[@]}" "$work/sessionbench" -passes "$PASSES" -cleanup-passes "$CLEANUP_PASSES" -benchtime "$BENCHTIME" -sessions "$SESSIONS" -expired "$EXPIRED" \
		-meta "$work/meta.md" -notes analysis.md -md "$OUT" -json "$work/samples.json" | tee "$work/bench.txt"
	echo "load average after the store benchmark: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	echo "wrote $OUT" >&2
fi

mkdir -p results
# The cost of one HTTP request through each session manager: results/http.csv
# and docs/perf-http.md.
if step http; then
	go build -o "$work/httpbench" ./cmd/httpbench
	"${client[@]}" "$work/httpbench" -passes "$PASSES" -benchtime "$BENCHTIME" -sessions "$HTTP_SESSIONS" -out results \
		-md ../docs/perf-http.md | tee "$work/http.txt"
fi
# Cleanup (writer's wait over time) and scale (cost vs live rows): run when
# their commands exist; each writes its CSVs under results/.
for cmd in cleanbench scalebench; do
	name=${cmd%bench}
	step "$name" || continue
	if [ -d "cmd/$cmd" ]; then
		go run "./cmd/$cmd" -out results
	else
		echo "cmd/$cmd not there: no $name figures" >&2
	fi
done
# The figures of docs/ from whatever CSVs are under results/.
if step plots; then
	go run ./cmd/plots -results results -img ../docs/img
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
