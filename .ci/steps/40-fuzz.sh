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
for t in "${targets[@]}"; do
	set -- $t
	echo "== fuzz $2 ($1, $fuzztime)"
	go test -run '^$' -fuzz "^$2\$" -fuzztime="$fuzztime" "$1"
done
