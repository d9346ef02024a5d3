#!/usr/bin/env bash
# Performance regression guard: a short benchmark pass over gormsession and
# the hand-written SQL baseline only (no peer stores), on PostgreSQL and
# SQLite, where the performance targets are set. It prints every ratio to
# the baseline next to its target and fails only when one is more than twice
# its target, so a noisy machine cannot fail a good change while a real
# regression cannot land silently. The full comparison is bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../../bench"
export PATH="/usr/local/go/bin:$PATH"
go vet ./...
go run ./cmd/sessionbench -guard -subjects raw,ours -dbs postgres,sqlite \
	-workloads create,load,save,mix32 -passes 3 -benchtime 300ms -sessions 20000 \
	| grep -v '^Benchmark'
