#!/bin/bash
# Regenerates user/go/go_offsets_table.c: for every Go toolchain that
# tests/go/fetch-toolchains.sh provides, the runtime struct offsets (read from
# the DWARF of scripts/offsets_probe built with that toolchain), the
# goroutine status values and the wait reasons (parsed from that GOROOT's
# runtime/runtime2.go). Only versions actually built are listed, so the
# tracer refuses a stripped binary of any other version instead of guessing.
#
# usage: scripts/gen-go-offsets.sh [OUTPUT]   (default: user/go/go_offsets_table.c)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/user/go/go_offsets_table.c}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

die() {
	echo "gen-go-offsets: $*" >&2
	exit 1
}

${CC:-gcc} -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -D_GNU_SOURCE -I"$root/user" \
	"$root/scripts/dump-go-offsets.c" "$root/user/go/godwarf.c" -o "$tmp/dump" -ldw -lelf

# Wait reason name -> enum go_block_kind (user/go/go_offsets.h). A name that is
# not listed becomes GB_OTHER with a warning, so a new Go is noticed.
kind_of() {
	case $1 in
	waitReasonChanReceive | waitReasonSynctestChanReceive) echo GB_CHAN_RECV ;;
	waitReasonChanSend | waitReasonSynctestChanSend) echo GB_CHAN_SEND ;;
	waitReasonSelect | waitReasonSynctestSelect) echo GB_SELECT ;;
	waitReasonSelectNoCases) echo GB_SELECT_NO_CASES ;;
	waitReasonChanReceiveNilChan | waitReasonChanSendNilChan) echo GB_CHAN_NIL ;;
	waitReasonSemacquire | waitReasonSyncMutexLock | waitReasonSyncRWMutexRLock | \
		waitReasonSyncRWMutexLock) echo GB_MUTEX ;;
	waitReasonSyncCondWait) echo GB_COND ;;
	waitReasonSyncWaitGroupWait) echo GB_WAITGROUP ;;
	waitReasonSleep) echo GB_SLEEP ;;
	waitReasonIOWait) echo GB_NET ;;
	waitReasonGCAssistMarking | waitReasonGarbageCollection | waitReasonGarbageCollectionScan | \
		waitReasonGCAssistWait | waitReasonGCSweepWait | waitReasonGCScavengeWait | \
		waitReasonWaitForGCCycle | waitReasonGCWorkerIdle | waitReasonGCWorkerActive | \
		waitReasonGCMarkTermination | waitReasonGCWeakToStrongWait) echo GB_GC ;;
	waitReasonPreempted) echo GB_PREEMPTED ;;
	waitReasonForceGCIdle) echo GB_FORCEGC ;;
	waitReasonCoroutine) echo GB_COROUTINE ;;
	waitReasonSynctestRun | waitReasonSynctestWait) echo GB_SYNCTEST ;;
	waitReasonZero) echo GB_OTHER ;;
	waitReasonDumpingHeap | waitReasonPanicWait | waitReasonFinalizerWait | \
		waitReasonTimerGoroutineIdle | waitReasonTraceReaderBlocked | waitReasonDebugCall | \
		waitReasonStoppingTheWorld | waitReasonFlushProcCaches | \
		waitReasonTraceGoroutineStatus | waitReasonTraceProcStatus | \
		waitReasonPageTraceFlush) echo GB_RUNTIME ;;
	*)
		echo "gen-go-offsets: warning: unclassified wait reason $1 (GB_OTHER)" >&2
		echo GB_OTHER
		;;
	esac
}

# Prints "CODE NAME STRING" per wait reason: the codes from the iota const
# block that starts with "waitReasonZero waitReason = iota", the strings from
# the keyed waitReasonStrings array.
parse_waitreasons() {
	awk '
	function fail(m) { print "parse: " m > "/dev/stderr"; bad = 1; exit 1 }
	/^[ \t]*waitReason[A-Za-z0-9_]*[ \t]+waitReason[ \t]*=[ \t]*iota/ {
		inconst = 1; n = 0; name[n++] = $1; next
	}
	inconst && /^\)/ { inconst = 0; next }
	inconst {
		line = $0; sub(/\/\/.*/, "", line)
		if (line ~ /^[ \t]*$/) next
		if (line !~ /^[ \t]*waitReason[A-Za-z0-9_]*[ \t]*$/) fail("unexpected const line: " $0)
		gsub(/[ \t]/, "", line); name[n++] = line; next
	}
	/^var waitReasonStrings = \[\.\.\.\]string\{/ { instr = 1; next }
	instr && /^\}/ { instr = 0; next }
	instr {
		line = $0; sub(/^[ \t]*/, "", line)
		if (line ~ /^(\/\/.*)?$/) next
		if (!match(line, /^waitReason[A-Za-z0-9_]*:[ \t]*"/)) fail("unexpected string line: " $0)
		key = substr(line, 1, index(line, ":") - 1)
		s = substr(line, RLENGTH + 1)
		if (!sub(/",[ \t]*(\/\/.*)?$/, "", s)) fail("unexpected string line: " $0)
		str[key] = s; nstr++
	}
	END {
		if (bad) exit 1
		if (n == 0 || nstr == 0) { print "parse: no waitReason block" > "/dev/stderr"; exit 1 }
		for (i = 0; i < n; i++) {
			if (!(name[i] in str)) { print "parse: no string for " name[i] > "/dev/stderr"; exit 1 }
			printf "%d %s %s\n", i, name[i], str[name[i]]
		}
	}' "$1"
}

# Prints "NAME VALUE" for the _G* constants that have their own value (not
# the _Gscan+X combinations), following Go's iota rule: a bare name repeats
# the previous expression with iota = its index in the block.
parse_gstatus() {
	awk '
	/^[ \t]*_Gidle[ \t]*=[ \t]*iota/ { inblk = 1; idx = 0; expr = "iota"; print "_Gidle 0"; idx++; next }
	inblk && /^\)/ { exit }
	inblk {
		line = $0; sub(/\/\/.*/, "", line)
		if (line ~ /^[ \t]*$/) next
		if (line ~ /^[ \t]*_G[A-Za-z0-9_]*[ \t]*$/) {
			gsub(/[ \t]/, "", line)
			if (expr != "iota") { print "parse: cannot evaluate " line > "/dev/stderr"; exit 1 }
			print line, idx
		} else if (match(line, /=[ \t]*(0x[0-9a-fA-F]+|[0-9]+)[ \t]*$/)) {
			v = substr(line, RSTART + 1); gsub(/[ \t]/, "", v)
			nm = line; sub(/[ \t]*=.*/, "", nm); gsub(/[ \t]/, "", nm)
			print nm, v; expr = v
		} else {
			expr = "other"
		}
		idx++
	}' "$1"
}

gstatus_field() { # FILE NAME -> value, or fail
	local v
	v=$(awk -v n="$2" '$1 == n { print $2 }' "$1")
	[ -n "$v" ] || die "no $2 in $1"
	echo "$v"
}

# go needs a build cache; without HOME it has no default one.
if [ -z "${HOME:-}" ] && [ -z "${GOCACHE:-}" ]; then
	export GOCACHE=$root/tests/.cache/go-build
fi

minors=()
versions=()
while read -r ver goroot rest; do
	[ -n "$ver" ] || continue
	if [ "$goroot" = skipped: ]; then
		echo "gen-go-offsets: go$ver $goroot $rest" >&2
		continue
	fi
	gover=$(GOROOT=$goroot "$goroot/bin/go" env GOVERSION)
	minor=${ver#1.}
	echo "gen-go-offsets: $gover ($goroot)" >&2
	(cd "$root/scripts/offsets_probe" &&
		GOROOT=$goroot GOTOOLCHAIN=local CGO_ENABLED=0 GOARCH=amd64 \
			GOFLAGS='' "$goroot/bin/go" build -o "$tmp/probe-$minor" main.go) ||
		die "building the probe with $gover failed"
	"$tmp/dump" --c "$tmp/probe-$minor" >"$tmp/off-$minor" || die "no offsets from $gover"
	if ! grep -q "^	*\.major = 1,$" "$tmp/off-$minor" ||
		! grep -q "^	*\.minor = $minor,$" "$tmp/off-$minor"; then
		die "$gover: DWARF producer disagrees with the toolchain version"
	fi
	lacks=$(sed -n 's/^	*\.\([a-z_0-9]*\) = -1,$/\1/p' "$tmp/off-$minor" | tr '\n' ' ')
	[ -z "$lacks" ] || echo "gen-go-offsets: $gover lacks: $lacks" >&2
	parse_waitreasons "$goroot/src/runtime/runtime2.go" >"$tmp/wr-$minor" ||
		die "$gover: cannot parse waitReason in runtime2.go"
	parse_gstatus "$goroot/src/runtime/runtime2.go" >"$tmp/gs-$minor" ||
		die "$gover: cannot parse the _G status constants"
	minors+=("$minor")
	versions+=("$gover")
done < <("$root/tests/go/fetch-toolchains.sh")
[ ${#minors[@]} -gt 0 ] || die "no Go toolchain available"

# "go1.19, go1.21-go1.24": runs of consecutive minors.
supported=
i=0
while [ $i -lt ${#minors[@]} ]; do
	j=$i
	while [ $((j + 1)) -lt ${#minors[@]} ] && [ "${minors[$((j + 1))]}" = $((${minors[$j]} + 1)) ]; do
		j=$((j + 1))
	done
	run=go1.${minors[$i]}
	[ $j = $i ] || run="$run-go1.${minors[$j]}"
	supported=${supported:+$supported, }$run
	i=$((j + 1))
done

{
	cat <<'EOF'
// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * GENERATED by scripts/gen-go-offsets.sh; do not edit. Rerun it after
 * changing GO_OFFSET_FIELDS or the toolchains in tests/go/fetch-toolchains.sh.
 *
 * Offsets are from the DWARF of scripts/offsets_probe built with each
 * toolchain; status values and wait reasons are parsed from that toolchain's
 * src/runtime/runtime2.go. Only the versions listed were generated: a Go
 * version in between (say go1.20) is refused rather than assumed to match a
 * neighbour, since runtime structs change between minor releases.
 */
#include <stddef.h>
#include "go/go_offsets.h"

struct go_waitreason {
	const char *str;
	enum go_block_kind kind;
};

struct go_version {
	struct go_offsets off;
	struct go_gstatus gs;
	const struct go_waitreason *wr;
	int nwr;
};

/* Generated data: kept as written so that regenerating gives clean diffs. */
/* clang-format off */
EOF
	for minor in "${minors[@]}"; do
		echo "static const struct go_waitreason waitreasons_1_${minor}[] = {"
		while read -r code name str; do
			printf '\t[%d] = {"%s", %s}, /* %s */\n' "$code" "$str" "$(kind_of "$name")" "$name"
		done <"$tmp/wr-$minor"
		echo "};"
		echo
	done
	echo "static const struct go_version versions[] = {"
	for i in "${!minors[@]}"; do
		minor=${minors[$i]}
		gs=$tmp/gs-$minor
		printf '\t{\n\t\t/* %s */\n\t\t.off = {\n' "${versions[$i]}"
		sed 's/^\t/\t\t/' "$tmp/off-$minor"
		printf '\t\t},\n\t\t.gs = {\n'
		for f in idle runnable running syscall waiting dead copystack preempted scan; do
			printf '\t\t\t.%s = %s,\n' "$f" "$(gstatus_field "$gs" "_G$f")"
		done
		printf '\t\t},\n\t\t.wr = waitreasons_1_%s,\n' "$minor"
		printf '\t\t.nwr = sizeof(waitreasons_1_%s) / sizeof(waitreasons_1_%s[0]),\n\t},\n' \
			"$minor" "$minor"
	done
	echo "};"
	cat <<EOF

static const char *const kind_names[GB__COUNT] = {
	[GB_OTHER] = "other",
	[GB_CHAN_RECV] = "chan_recv",
	[GB_CHAN_SEND] = "chan_send",
	[GB_SELECT] = "select",
	[GB_SELECT_NO_CASES] = "select_no_cases",
	[GB_CHAN_NIL] = "chan_nil",
	[GB_MUTEX] = "mutex",
	[GB_COND] = "cond",
	[GB_WAITGROUP] = "waitgroup",
	[GB_SLEEP] = "sleep",
	[GB_NET] = "net",
	[GB_GC] = "gc",
	[GB_SYSCALL] = "syscall",
	[GB_PREEMPTED] = "preempted",
	[GB_FORCEGC] = "forcegc",
	[GB_RUNTIME] = "runtime",
	[GB_COROUTINE] = "coroutine",
	[GB_SYNCTEST] = "synctest",
};
/* clang-format on */

static const struct go_version *find(int major, int minor)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (versions[i].off.major == major && versions[i].off.minor == minor)
			return &versions[i];
	return NULL;
}

const struct go_offsets *go_offsets_for_version(int major, int minor)
{
	const struct go_version *v = find(major, minor);

	return v ? &v->off : NULL;
}

const struct go_gstatus *go_gstatus_for_version(int major, int minor)
{
	const struct go_version *v = find(major, minor);

	return v ? &v->gs : NULL;
}

const char *go_offsets_supported(void)
{
	return "$supported";
}

const char *go_waitreason_string(int minor, int code)
{
	const struct go_version *v = find(1, minor);

	return v && code >= 0 && code < v->nwr ? v->wr[code].str : NULL;
}

enum go_block_kind go_waitreason_kind(int minor, int code)
{
	const struct go_version *v = find(1, minor);

	return v && code >= 0 && code < v->nwr ? v->wr[code].kind : GB_OTHER;
}

const char *go_block_kind_name(enum go_block_kind kind)
{
	return (unsigned)kind < GB__COUNT && kind_names[kind] ? kind_names[kind] : "other";
}
EOF
} >"$tmp/table.c"

# Must compile with the project's flags before it replaces the old table.
${CC:-gcc} -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -D_GNU_SOURCE -I"$root/user" -c "$tmp/table.c" \
	-o "$tmp/table.o" || die "generated table does not compile"
mv "$tmp/table.c" "$out"
echo "gen-go-offsets: wrote $out ($supported)" >&2
