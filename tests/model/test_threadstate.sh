#!/bin/bash
# Unit test of user/model/threadstate.c on hand-built records (no root, no
# BPF): builds tests/model/test_threadstate.c against the model, capture and
# lib sources it needs and runs it. One PASS/FAIL line per check; the last
# line is "threadstate: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cflags="-O2 -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter
	-Wno-missing-field-initializers -D_GNU_SOURCE -I$root/user -I$root"
# The model and the layers below it (capture/, lib/): what it may use.
srcs="$here/test_threadstate.c $root/user/model/threadstate.c $root/user/capture/*.c
	$root/user/lib/*.c"
# shellcheck disable=SC2086
if ! ${CC:-gcc} $cflags $srcs -lz -lzstd -o "$work/test_threadstate" 2>"$work/build.log"; then
	head -20 "$work/build.log"
	echo "FAIL build test_threadstate"
	echo "threadstate: 0 passed, 1 failed"
	exit 1
fi
"$work/test_threadstate"
