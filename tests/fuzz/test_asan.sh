#!/bin/bash
# The non-BPF tests against ctrace-bpf built with ASan and UBSan (make asan):
# the crafted captures of tests/test_hostile.py, and every output of a few
# captures the other tests kept, which must also match the plain build's
# byte for byte (tests/determinism.py --against). A sanitizer report fails
# the run (UBSan aborts; ASan exits non-zero and the outputs differ).
set -u
cd "$(dirname "$0")/../.."
passed=0 failed=0
ok() { echo "ok    $*"; passed=$((passed + 1)); }
bad() { echo "FAIL  $*"; failed=$((failed + 1)); }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if ! out=$(make -s -j2 all asan 2>&1); then
	echo "FAIL  make asan: $(echo "$out" | grep -m3 -E 'error|Error')"
	echo "asan: 0 passed, 1 failed"
	exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=32
export UBSAN_OPTIONS=print_stacktrace=1
if log=$(CTRACE_BPF=build/asan/ctrace-bpf CTRACE_SANITIZED=1 $PY -B tests/run_tests.py \
	tests/test_hostile.py 2>&1); then
	ok "test_hostile.py under ASan+UBSan: $(echo "$log" | tail -1)"
else
	bad "test_hostile.py under ASan+UBSan: $(echo "$log" | grep -m3 FAIL)"
fi
# The four smallest kept captures: a minute or so of converting.
caps=$(ls -S build/tests/captures/*.ctr 2>/dev/null | tail -4)
if [ -n "$caps" ]; then
	# shellcheck disable=SC2086
	if log=$($PY -B tests/determinism.py --bin build/asan/ctrace-bpf --against ./ctrace-bpf \
		$caps 2>&1); then
		ok "every output of $(echo "$caps" | wc -w) captures under ASan+UBSan equals the plain build's"
	else
		bad "ASan+UBSan outputs: $(echo "$log" | grep -m3 FAIL)"
	fi
fi
echo "asan: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
