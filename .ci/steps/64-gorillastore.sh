#!/usr/bin/env bash
# The gorilla/sessions store adapter is a Go module of its own (so the
# library's go.mod never lists gorilla/sessions, gin or echo); the root
# "go test ./..." does not reach it. Vet and test it here, on the three
# databases .ci/run points the tests at.
set -euo pipefail
cd "$(dirname "$0")/../../adapters/gorillastore"
go vet ./...
go test -race -count=1 ./...
