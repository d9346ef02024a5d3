#!/usr/bin/env bash
# The OpenTelemetry example is a Go module of its own (so the library's
# go.mod never lists OpenTelemetry or GORM's tracing plugin); the root
# "go test ./..." does not reach it. Vet and test it here, on the databases
# .ci/run exported; testreport fails the step if a database subtest was
# skipped.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root/examples/otel"
go vet ./...
out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
go test -race -count=1 -json ./... >"$out"
status=$?
set -e
(cd "$root" && go run ./internal/ci/testreport <"$out")
[ "$status" -eq 0 ] || { echo "examples/otel tests failed" >&2; exit "$status"; }
