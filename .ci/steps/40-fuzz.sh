#!/usr/bin/env bash
# Fuzz every target for a short, bounded time: token parsing, each codec's
# Decode, and Container.Open with arbitrary tokens (SQLite). The committed
# seed corpora (testdata/fuzz/) also run as plain tests in the main test
# step. A failure leaves its input in the package's testdata/fuzz/ to commit.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
fuzztime="${GORMSESSION_FUZZTIME:-10s}"
targets=(
	"./internal/token FuzzParse"
	"./codec FuzzJSONDecode"
	"./codec FuzzGobDecode"
	"./internal/seal FuzzOpen"
	"./session FuzzOpen"
)
# Go's fuzzing coordinator now and then ends a run that found nothing with
# "context deadline exceeded" when -fuzztime runs out while a worker is
# busy; such a run (no failing input written) is retried once. A real
# finding always names its failing input and fails at once.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for t in "${targets[@]}"; do
	set -- $t
	for attempt in 1 2; do
		echo "== fuzz $2 ($1, $fuzztime)"
		if go test -run '^$' -fuzz "^$2\$" -fuzztime="$fuzztime" "$1" 2>&1 | tee "$out"; then
			break
		fi
		if [ "$attempt" = 1 ] && grep -q "context deadline exceeded" "$out" && ! grep -q "Failing input" "$out"; then
			echo "== fuzz $2: the fuzzing engine's own deadline error, no failing input; once more"
			continue
		fi
		exit 1
	done
done
