#!/usr/bin/env bash
# The scs store adapter is a module of its own (so the library's go.mod
# never lists scs); the root "go test ./..." does not reach it. Vet and
# test it here on all three databases, with the same skip accounting as
# the main test step: a database subtest that skipped fails CI.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
(cd adapters/scsstore && go vet ./...)
set +e
(cd adapters/scsstore && go test -race -count=1 -json ./...) >"$out"
status=$?
# Once more under the GORM settings applications commonly turn on
# (prepared statements, no default transaction).
(cd adapters/scsstore && GORMSESSION_TEST_GORM_CONFIG=prepare,skiptx go test -race -count=1 -json ./...) >>"$out"
again=$?
[ "$status" -ne 0 ] || status=$again
set -e
go run ./internal/ci/testreport <"$out"
[ "$status" -eq 0 ] || { echo "adapters/scsstore tests failed" >&2; exit "$status"; }
