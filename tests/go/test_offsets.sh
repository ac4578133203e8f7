#!/bin/bash
# Checks user/go/go_offsets_table.c against reality, per Go toolchain from
# fetch-toolchains.sh: a program unlike the generator's probe
# (tests/go/offsets_target, built with cgo where possible) must yield, from
# its own DWARF, exactly the table's offsets for its version -- that is what
# lets the tracer trust the table for stripped binaries. Also: the wait
# reasons that program's goroutines report are in the table with the
# expected kind, the DWARF globals match the symbol table, and a binary
# without DWARF fails cleanly.
#
# usage: tests/go/test_offsets.sh     prints one line per check, then a tally
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() {
	echo "PASS $*"
	pass=$((pass + 1))
}
bad() {
	echo "FAIL $*"
	fail=$((fail + 1))
}

if ! ${CC:-gcc} -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -D_GNU_SOURCE -DWITH_TABLE -I"$root/user" \
	"$root/scripts/dump-go-offsets.c" "$root/user/go/godwarf.c" "$root/user/go/go_offsets_table.c" \
	-o "$tmp/dump" -ldw -lelf 2>"$tmp/cc.log"; then
	cat "$tmp/cc.log"
	bad "build dump-go-offsets"
	echo "$pass passed, $fail failed"
	exit 1
fi
dump=$tmp/dump

# A version that was never generated must be refused, not guessed.
if ! "$dump" --table 20 >/dev/null 2>&1 && ! "$dump" --table 99 >/dev/null 2>&1; then
	ok "table refuses ungenerated versions (supported: $("$dump" --supported))"
else
	bad "table answers for a version it was not generated for"
fi

[ -n "${HOME:-}" ] || [ -n "${GOCACHE:-}" ] || export GOCACHE=$root/tests/.cache/go-build
cgo=0
command -v "${CC:-gcc}" >/dev/null && cgo=1

# label -> kind that its wait reason must classify as (waitgroup: see below)
expect_kind() {
	case $1 in
	chanrecv) echo chan_recv ;;
	chansend) echo chan_send ;;
	select) echo select ;;
	selectnone) echo select_no_cases ;;
	nilchan) echo chan_nil ;;
	mutex | rwmutex) echo mutex ;;
	cond) echo cond ;;
	sleep) echo sleep ;;
	net) echo net ;;
	*) echo "?" ;;
	esac
}

ntool=0
while read -r ver goroot rest; do
	[ -n "$ver" ] || continue
	if [ "$goroot" = skipped: ]; then
		echo "SKIP go$ver: $rest"
		continue
	fi
	ntool=$((ntool + 1))
	minor=${ver#1.}
	gov=$(GOROOT=$goroot "$goroot/bin/go" env GOVERSION 2>/dev/null)
	bin=$tmp/target-$minor
	build() { # OUT [go build flags...]
		local out=$1
		shift
		(cd "$root/tests/go/offsets_target" && GOROOT=$goroot GOTOOLCHAIN=local \
			CGO_ENABLED=$cgo GOFLAGS='' "$goroot/bin/go" build "$@" -o "$out" main.go) \
			>"$out.log" 2>&1
	}
	if ! build "$bin"; then
		bad "$gov: build target"
		sed 's/^/    /' "$bin.log"
		continue
	fi

	# 1. DWARF offsets == committed table.
	if ! "$dump" --table "$minor" >"$tmp/table-$minor" 2>"$tmp/err"; then
		bad "$gov: not in the table: $(cat "$tmp/err")"
	elif ! "$dump" "$bin" >"$tmp/dwarf-$minor" 2>"$tmp/err"; then
		bad "$gov: godwarf failed: $(cat "$tmp/err")"
	elif diff -u "$tmp/table-$minor" "$tmp/dwarf-$minor" >"$tmp/diff"; then
		ok "$gov: target's DWARF offsets match the table ($(grep -c . "$tmp/table-$minor") values, cgo=$cgo)"
	else
		bad "$gov: target's DWARF offsets differ from the table (- table, + DWARF):"
		grep '^[-+][a-z]' "$tmp/diff" | sed 's/^/    /'
	fi

	# 2. Globals: DWARF addresses agree with the ELF symbol table.
	"$dump" --vars "$bin" >"$tmp/vars" 2>/dev/null
	read -r na nl < <(nm "$bin" 2>/dev/null |
		awk '$3 == "runtime.allgs" { a = $1 } $3 == "runtime.allglen" { b = $1 } END { print a, b }')
	ga=$(awk '$1 == "allgs_addr" { print $2 }' "$tmp/vars")
	gl=$(awk '$1 == "allglen_addr" { print $2 }' "$tmp/vars")
	if [ -n "$na" ] && [ -n "$nl" ] && [ -n "$ga" ] && [ -n "$gl" ] &&
		((0x$na == ga && 0x$nl == gl && ga != 0)) &&
		grep -q '^allgs_array 0$' "$tmp/vars" && grep -q '^allgs_len 8$' "$tmp/vars"; then
		ok "$gov: runtime.allgs/allglen from DWARF match nm ($ga $gl)"
	else
		bad "$gov: runtime.allgs/allglen: DWARF says '$ga $gl', nm says '$na $nl'"
	fi

	# 3. No DWARF: the Go way (-w) and strip(1) after the fact.
	nodw=$tmp/nodwarf-$minor
	if ! build "$nodw" -ldflags=-s\ -w; then
		bad "$gov: build target with -ldflags='-s -w'"
	else
		"$dump" "$nodw" >/dev/null 2>"$tmp/err"
		rc=$?
		if [ $rc = 2 ] && grep -q "no DWARF" "$tmp/err"; then
			ok "$gov: -ldflags='-s -w' binary gives the no-DWARF error"
		else
			bad "$gov: -ldflags='-s -w' binary: exit $rc, '$(cat "$tmp/err")'"
		fi
	fi
	if command -v strip >/dev/null; then
		strip -o "$nodw.strip" "$bin" 2>/dev/null
		"$dump" "$nodw.strip" >/dev/null 2>"$tmp/err"
		rc=$?
		if [ $rc = 2 ] && grep -q "no DWARF" "$tmp/err"; then
			ok "$gov: strip(1)ped binary gives the no-DWARF error"
		else
			bad "$gov: strip(1)ped binary: exit $rc, '$(cat "$tmp/err")'"
		fi
	fi

	# 4. Wait reasons the runtime prints are in the table, classified as expected.
	if ! timeout 30 "$bin" >"$tmp/reasons-$minor" 2>&1; then
		bad "$gov: running the target failed"
		sed 's/^/    /' "$tmp/reasons-$minor"
		continue
	fi
	wrbad=
	nwr=0
	while read -r label reason; do
		if [ "${reason%% *}" = SKIP ]; then
			echo "SKIP $gov: wait reason for $label: ${reason#SKIP }"
			continue
		fi
		want=$(expect_kind "$label")
		if [ "$label" = waitgroup ]; then
			# Its own wait reason is new in go1.24; before, it parks in semacquire.
			if [ "$minor" -ge 24 ]; then want=waitgroup; else want=mutex; fi
		fi
		kind=$("$dump" --reason "$minor" "$reason")
		nwr=$((nwr + 1))
		[ "$kind" = "$want" ] || wrbad="$wrbad $label:'$reason'=$kind(want $want)"
	done <"$tmp/reasons-$minor"
	if [ $nwr -lt 10 ]; then
		bad "$gov: target reported only $nwr wait reasons"
		sed 's/^/    /' "$tmp/reasons-$minor"
	elif [ -z "$wrbad" ]; then
		ok "$gov: $nwr wait reasons seen at run time are in the table with the expected kind"
	else
		bad "$gov: wait reasons:$wrbad"
	fi
done < <("$root/tests/go/fetch-toolchains.sh")

[ $ntool -gt 0 ] || bad "no Go toolchain to test with"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
