#!/usr/bin/env bash
# staticcheck, pinned, over every module of the repository (the library and
# each integration or example with a go.mod of its own). It must report
# nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/usr/local/go/bin:$PATH"
version=v0.8.2
status=0
while IFS= read -r mod; do
	dir=$(dirname "$mod")
	echo "== staticcheck $dir"
	(cd "$dir" && go run "honnef.co/go/tools/cmd/staticcheck@$version" ./...) || status=1
done < <(find . -name go.mod -not -path './.git/*' | sort)
exit "$status"
