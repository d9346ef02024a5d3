#!/usr/bin/env bash
# The echo integration is a Go module of its own (so the library's go.mod
# never lists echo); the root "go test ./..." does not reach it. Vet and
# test it here, its example program included, on the databases .ci/run
# points the tests at.
set -euo pipefail
cd "$(dirname "$0")/../../integrations/echo"
go vet ./...
go test -race -count=1 ./...
