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
for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=./$(dirname "${file#./}")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		n=$((n + 1))
		if ! out=$($GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
			echo "fuzz: $pkg $target failed:" >&2
			echo "$out" >&2
			status=1
		fi
	done
done
echo "fuzz: $n targets, ${fuzztime} each"
exit $status
