#!/usr/bin/env bash
# Performance regression guard (bench/cmd/sessionbench -guard), in two
# halves.
#
# Exact: gormsession's heap allocations and SQL statements per create, load
# and save, and per anonymous, read-only and changing HTTP request through
# sessionhttp, on PostgreSQL, SQLite and MariaDB, must equal the numbers in
# bench/cmd/sessionbench/guard_expected.txt. They do not depend on machine
# load, so any change fails; an intended one is recorded with
#   cd bench && go run ./cmd/sessionbench -guard-update
# and committed with the change.
#
# Timed: ours against the hand-written SQL baseline on PostgreSQL and
# SQLite, where the time targets are set, measured as the median ratio of
# short chunks of the two run alternately (so both see the same machine);
# a target fails only when that median is over twice the target, again
# after a rerun. The full comparison is bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../../bench"
export PATH="/usr/local/go/bin:$PATH"
go vet ./...
start=$(date +%s)
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
go run ./cmd/sessionbench -guard -subjects raw,ours -dbs postgres,sqlite -exact-dbs postgres,sqlite,mysql \
	-workloads create,load,save,mix32 -sessions 5000 -guard-rounds 40 -guard-budget 3s
echo "guard took $(($(date +%s) - start)) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
