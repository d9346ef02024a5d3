#!/usr/bin/env bash
# The demo application is a module of its own (its browser test needs
# chromedp and its users bcrypt, which the library's go.mod must not list);
# the root "go test ./..." does not reach it. Vet and test it here, with the
# same skip accounting as the main test step (the browser test is required
# in CI through GORMSESSION_TEST_REQUIRE=browser).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
(cd examples/webapp && go vet ./...)
set +e
(cd examples/webapp && go test -race -count=1 -json ./...) >"$out"
status=$?
set -e
go run ./internal/ci/testreport <"$out"
[ "$status" -eq 0 ] || { echo "examples/webapp tests failed" >&2; exit "$status"; }
