#!/usr/bin/env bash
# Run the library's suites again on handles configured as GORM applications
# commonly configure theirs: PrepareStmt, SkipDefaultTransaction, and both
# (the main test step covers GORM's defaults). internal/testdb opens every
# handle with the variant GORMSESSION_TEST_GORM_CONFIG names.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
for variant in prepare skiptx prepare,skiptx; do
	echo "== gorm config: $variant"
	out=$(mktemp)
	set +e
	GORMSESSION_TEST_GORM_CONFIG="$variant" go test -race -count=1 -json \
		. ./repository/... ./session/... ./sessionhttp/... ./hooks/... >"$out"
	status=$?
	set -e
	go run ./internal/ci/testreport <"$out"
	rm -f "$out"
	[ "$status" -eq 0 ] || { echo "tests failed under gorm config $variant" >&2; exit "$status"; }
done
