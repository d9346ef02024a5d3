#!/usr/bin/env bash
# The Prometheus example is a Go module of its own (so the library's go.mod
# never lists the Prometheus client); the root "go test ./..." does not
# reach it. Vet and test it here.
set -euo pipefail
cd "$(dirname "$0")/../../examples/prometheus"
go vet ./...
go test -race -count=1 ./...
