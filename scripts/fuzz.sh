#!/usr/bin/env bash
# Runs every fuzz target of the repository for a short time each
# (FUZZTIME, default 2s): new inputs that crash a parser are caught in
# every `make vet`, not only when someone remembers to fuzz. Failing
# inputs land in the package's testdata/fuzz, as go test -fuzz leaves them.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-2s}
GO=${GO:-go}
status=0
n=0

# fuzz PKG TARGET runs one target, its output on stdout.
fuzz() { $GO test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1" 2>&1; }

for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=./$(dirname "${file#./}")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		n=$((n + 1))
		out=$(fuzz "$pkg" "$target") && continue
		# Go's fuzzer can fail with "context deadline exceeded" when its
		# time runs out while a worker is busy (a loaded machine) and no
		# input failed: that is no finding, so the target runs again.
		if [[ $out == *"context deadline exceeded"* && $out != *"Failing input written"* ]]; then
			echo "fuzz: $pkg $target: the fuzzer's own deadline error, no failing input; running it again" >&2
			out=$(fuzz "$pkg" "$target") && continue
		fi
		echo "fuzz: $pkg $target failed:" >&2
		echo "$out" >&2
		status=1
	done
done
echo "fuzz: $n targets, ${fuzztime} each"
exit $status
