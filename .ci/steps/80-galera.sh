#!/usr/bin/env bash
# Galera (issue 11): the library on a real three-node MariaDB Galera cluster
# that Go code starts on loopback ports and stops by pid (tests/galera, a
# module of its own; setup/30-galera.sh installs the provider).
#  1. tests/galera: cross-node Update contention, read-your-writes across
#     nodes with and without wsrep_sync_wait, and New's Galera warning.
#  2. The library's session and sessionhttp suites with their MySQL DSN on
#     node 1 of a cluster (wsrep_sync_wait=1), through tests/galera's
#     command, which starts the cluster, runs go test, and stops it.
#     Skipped there, because they never touch MySQL and run in the main
#     test step already: TestFaultPostgres* (starts and kills its own
#     PostgreSQL servers) and TestReliabilitySQLite* (SQLite files). No
#     MySQL test is skipped: none is incompatible with a Galera node.
# GORMSESSION_TEST_REQUIRE gains "galera", so a host without the cluster's
# programs fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
export GORMSESSION_TEST_REQUIRE="${GORMSESSION_TEST_REQUIRE:-postgres,mysql},galera"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

(cd tests/galera && go vet ./...)
set +e
(cd tests/galera && go test -race -count=1 -timeout 5m -json ./...) >"$tmp/galera.json"
status=$?
set -e
go run ./internal/ci/testreport <"$tmp/galera.json"
# The figures the tests log even when they pass: errors, counts, retries
# and statement outcomes of the cross-node Updates, stale reads.
grep -o '"Output":" *\(update\|readwrite\)_test.go:[0-9]*: [^"]*' "$tmp/galera.json" \
	| sed -e 's/^"Output":" *//' -e 's/\\n$//' || true
[ "$status" -eq 0 ] || { echo "tests/galera tests failed" >&2; exit "$status"; }
echo "galera step: tests/galera done after $((SECONDS - start))s"

(cd tests/galera && go build -o "$tmp/galera" ./cmd/galera)
set +e
"$tmp/galera" -- go test -race -count=1 -timeout 5m -json \
	-skip '^(TestFaultPostgres|TestReliabilitySQLite)' ./session/... ./sessionhttp/... >"$tmp/suite.json"
status=$?
set -e
go run ./internal/ci/testreport <"$tmp/suite.json"
[ "$status" -eq 0 ] || { echo "session suites on a Galera node failed" >&2; exit "$status"; }
echo "galera step: $((SECONDS - start))s"
