#!/bin/bash
# Test runner behind `make test` (the Makefile builds ./ctrace-bpf first).
# Builds the C workloads into build/tests/, runs the Python tests
# (tests/run_tests.py), the determinism pass over the captures they kept
# (tests/determinism.py) and the shell suites (tests/go/test_*.sh), prints one
# line per test and, last, the total "N passed, N failed, N skipped".
# Arguments are passed to run_tests.py (e.g. -k pingpong -v); with any
# argument the shell suites are not run.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
CC=${CC:-gcc}
passed=0 failed=0 skipped=0

mkdir -p build/tests
for src in tests/workloads/*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	if ! out=$($CC -O2 -pthread -Wall -Werror -o "build/tests/$name" "$src" 2>&1); then
		echo "FAIL build-$name: $(echo "$out" | head -3 | tr '\n' ' ')"
		failed=$((failed + 1))
	fi
done

# Folds the last "N passed, N failed[, N skipped]" line of a suite's output
# into the totals; a suite that printed none counts as one failure if it
# exited non-zero.
fold() { # name rc logfile
	local line p f s
	line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$3" | tail -1)
	if [ -z "$line" ]; then
		if [ "$2" -ne 0 ]; then
			echo "FAIL $1: exited $2 without a count line"
			failed=$((failed + 1))
		fi
		return
	fi
	p=$(echo "$line" | sed -E 's/.*\b([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.*\b([0-9]+) failed.*/\1/')
	s=0
	echo "$line" | grep -q skipped && s=$(echo "$line" | sed -E 's/.*\b([0-9]+) skipped.*/\1/')
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$f" -eq 0 ] && [ "$2" -ne 0 ]; then
		echo "FAIL $1: exited $2"
		failed=$((failed + 1))
	fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

$PY -B tests/run_tests.py "$@" 2>&1 | tee "$log"
fold python "${PIPESTATUS[0]}" "$log"

if [ $# -eq 0 ]; then
	# Same input, same bytes: every capture the Python tests kept, converted
	# to every output twice.
	echo "== tests/determinism.py"
	$PY -B tests/determinism.py build/tests/captures 2>&1 | tee "$log"
	fold determinism "${PIPESTATUS[0]}" "$log"
	for t in tests/*/test_*.sh; do
		[ -f "$t" ] || continue
		echo "== $t"
		bash "$t" </dev/null 2>&1 | tee "$log"
		fold "$t" "${PIPESTATUS[0]}" "$log"
	done
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
