#!/usr/bin/env bash
# Replication tests (tests/replica, a module of its own so that the
# library's go.mod does not list gorm.io/plugin/dbresolver): private
# PostgreSQL primaries with a lagging streaming replica behind dbresolver,
# and a synchronous standby promoted after the primary's crash. The tests
# start their own servers on free ports of 127.0.0.1 (package
# internal/faulttest); GORMSESSION_TEST_REQUIRE=pgfault makes a missing
# PostgreSQL installation a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
export GORMSESSION_TEST_REQUIRE="${GORMSESSION_TEST_REQUIRE:-pgfault}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
(cd tests/replica && go vet ./...)
set +e
(cd tests/replica && go test -race -count=1 -timeout 5m -json ./...) >"$out"
status=$?
set -e
go run ./internal/ci/testreport <"$out"
[ "$status" -eq 0 ] || { echo "tests/replica tests failed" >&2; exit "$status"; }
