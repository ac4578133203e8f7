#!/bin/bash
# Checks user/go/goelf.c against the Go toolchain's own view of the same
# binaries (`go version`, `go tool nm`, `go tool addr2line`). For every
# toolchain fetch-toolchains.sh provides, tests/go/goelf_prog is built in
# several link variants; stripped variants are compared with their
# unstripped twin, since strip does not move code. Then non-Go, truncated
# and randomly corrupted inputs must give an error, never a crash.
#
# usage: test_goelf.sh [-q]      -q: print only failures and the summary
# env:   CC (gcc), GOELF_FUZZ (mutated files, default 120),
#        GOELF_VALGRIND=0 to skip the valgrind runs
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$root/build/goelf-test
quiet=0
[ "${1:-}" = -q ] && quiet=1
mkdir -p "$work"
goprog=$here/goelf_prog
. "$here/lib.sh"
# runtime.goready is inlined into its callers since Go 1.21 (only the
# per-caller closures "X.goready.func1" remain); runtime.ready does the work.
funcs="runtime.gopark runtime.goready runtime.ready runtime.execute runtime.newproc1
runtime.goexit1 runtime.casgstatus main.main"
funcs=$(echo $funcs)

# check DESC WANT GOT
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: want '$2', got '$3'"; fi
}

# --- the checker, plain and sanitized ---
build_goelf_check

# --- helpers ---

# vaddr2off FILE VADDR...: file offsets from readelf's program headers,
# independently of goelf ("-" if not file-backed).
vaddr2off() {
	local f=$1
	shift
	readelf -lW "$f" | perl -lane '
		BEGIN { @a = map { hex } split / /, shift @ARGV }
		push @s, [hex $F[2], hex $F[1], hex $F[4]] if $F[0] eq "LOAD";
		END {
			for $a (@a) {
				$o = "-";
				for (@s) { $o = sprintf "0x%x", $a - $$_[0] + $$_[1]
					if $a >= $$_[0] && $a < $$_[0] + $$_[2] }
				print $o;
			}
		}' "$*"
}

# section_off FILE NAME: file offset of a section, hex without 0x
section_off() {
	readelf -SW "$1" | perl -ne 'print "$2\n" if /\]\s+\Q'"$2"'\E\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)/'
}

# poke FILE OFFSET PACKFMT VALUE: overwrite bytes in place
poke() {
	perl -e 'open(F, "+<", $ARGV[0]) or die; seek(F, $ARGV[1], 0);
		print F pack($ARGV[2], $ARGV[3])' "$@"
}

# nmfunc NMFILE NAME: "0xADDR SIZE" of a function in `go tool nm -size` output
nmfunc() {
	perl -lane 'print sprintf("0x%x %d", hex $F[0], $F[1]) if $F[3] eq "'"$2"'" && $F[2] =~ /^[tT]$/' \
		"$1" | head -n1
}

# addr2line normalized to goelf_check's "FUNC<TAB>FILE:LINE". The newest
# toolchain's is used: Go 1.19's cannot read a PIE's pclntab.
a2l() {
	"$ref_go" tool addr2line "$1" | paste - - | sed -e 's/\t:-1$/\t?:0/'
}

# --- per-binary checks ---

# check_binary TAG GO BIN TWIN STRIPPED
check_binary() {
	local tag=$1 go=$2 bin=$3 twin=$4 stripped=$5
	local nm=$bin.nm want got r_sym r_pcl f w a s
	"$go" tool nm -size "$twin" >"$nm" 2>/dev/null

	want=$("$go" version "$bin" 2>/dev/null | awk '{print $2}')
	got=$("$gc" "$bin" 2>&1 | awk '$1 == "version" {print $2}')
	check "$tag version (go version says ${want:-?})" "${want:-missing}" "$got"

	want=$(readelf -h "$bin" | awk '$1 == "Type:" {print ($2 == "DYN") ? 1 : 0}')
	r_sym=$("$gc" -c 8 "$bin" $funcs 2>&1)
	r_pcl=$("$gc" -P -c 8 "$bin" $funcs 2>&1)
	got=$(echo "$r_sym" | awk '$1 == "pie" {print $2}')
	check "$tag is_pie" "$want" "$got"
	got=$(echo "$r_sym" | awk '$1 == "symtab" {print $2}')
	check "$tag has_symtab" "$((1 - stripped))" "$got"

	got=$(echo "$r_pcl" | awk '$1 == "pclntab" {$1 = ""; print substr($0, 2)}')
	if [ -n "$got" ] && [ "$got" != none ]; then
		ok "$tag pclntab found without .symtab via $got"
	else
		bad "$tag pclntab not found without .symtab: $(echo "$r_pcl" | head -n2)"
	fi
	want=$(nmfunc "$nm" runtime.text | cut -d' ' -f1)
	got=$(echo "$r_pcl" | awk '$1 == "textstart" {print $2}')
	check "$tag textStart == runtime.text" "$want" "$got"

	# Function entry and size: symtab path and forced pclntab path.
	local how="symtab and pclntab"
	[ "$stripped" = 1 ] && how="pclntab, twin's nm"
	for f in $funcs; do
		w=$(nmfunc "$nm" "$f")
		a=$(echo "$r_sym" | awk -v f="$f" '$1 == "func" && $2 == f {print $3, $4}')
		s=$(echo "$r_pcl" | awk -v f="$f" '$1 == "func" && $2 == f {print $3, $4}')
		if [ -n "$w" ] && [ "$a" = "$w" ] && [ "$s" = "$w" ]; then
			ok "$tag $f at ${w% *} size ${w#* } ($how)"
		elif [ -z "$w" ] && [ "$a" = "error: function" ] && [ "$s" = "error: function" ]; then
			ok "$tag $f is not in the binary (inlined), goelf agrees"
		else
			bad "$tag $f: nm '$w', goelf '$a', goelf -P '$s'"
		fi
	done

	# File offsets against readelf, and code bytes at them against the file.
	local addrs offs want_offs n=0 errs=
	addrs=$(echo "$r_pcl" | awk '$1 == "func" && $3 != "error:" {print $3}')
	offs=$(echo "$r_pcl" | awk '$1 == "func" && $3 != "error:" {print $5}')
	want_offs=$(vaddr2off "$bin" $addrs)
	if [ "$offs" != "$want_offs" ]; then
		errs="offsets '$(echo $offs)' != readelf '$(echo $want_offs)'"
	fi
	while read -r _ f a s o code; do
		[ "$a" = error: ] && continue
		n=$((n + 1))
		w=$(xxd -s "$o" -l 8 -p "$bin")
		[ "$w" = "$code" ] || errs="$errs $f: bytes $code != file $w"
	done < <(echo "$r_pcl" | grep '^func ')
	if [ -z "$errs" ] && [ $n -ge 7 ]; then
		ok "$tag file offsets and code bytes of $n functions"
	else
		bad "$tag offsets/code ($n functions): $errs"
	fi
	# Go 1.17+ amd64: a splittable function opens with CMPQ SP, 16(R14).
	got=$(echo "$r_pcl" | awk '$1 == "func" && $2 == "runtime.gopark" {print substr($6, 1, 8)}')
	check "$tag runtime.gopark starts with CMPQ SP, 16(R14)" 493b6610 "$got"

	# PC -> func, file:line for every function's entry and middle, plus
	# the edges of the functions above, against addr2line on the twin.
	local pcs=$bin.pcs
	{
		perl -lane 'printf "0x%x\n0x%x\n", hex $F[0], hex($F[0]) + int($F[1] / 2)
			if $F[2] =~ /^[tT]$/ && $F[1] > 0' "$nm"
		for f in $funcs; do
			w=$(nmfunc "$nm" "$f")
			[ -n "$w" ] && printf "0x%x\n0x%x\n" $((${w% *} + 1)) $((${w% *} + ${w#* } - 1))
		done
	} | sort -u >"$pcs"
	a2l "$twin" <"$pcs" >"$bin.a2l"
	"$gc" -P "$bin" $(cat "$pcs") | awk -F'\t' '/^pc 0x/ {
		if ($2 ~ /^error:/) print "?\t?:0"; else print $2 "\t" $3 }' >"$bin.goelf"
	n=$(wc -l <"$pcs")
	if [ "$n" -gt 100 ] && cmp -s "$bin.a2l" "$bin.goelf"; then
		ok "$tag $n pcs: func and file:line match go tool addr2line"
	else
		bad "$tag pcs differ from addr2line (< addr2line, > goelf):"
		diff "$bin.a2l" "$bin.goelf" | head -n 8 | sed 's/^/      /'
	fi

	# Every pc from runtime.text to the end of the last Go function must
	# resolve (to something) without table errors.
	local text etext
	text=$(nmfunc "$nm" runtime.text | cut -d' ' -f1)
	etext=$(perl -lane 'BEGIN { ($t, $e) = map { hex } @ARGV[0, 1]; @ARGV = () }
		$a = hex $F[0]; $z = $a + $F[1];
		$m = $z if $F[2] =~ /^[tT]$/ && $a >= $t && $a < $e && $z > $m;
		END { print $m }' "$text" "0x$(awk '$4 == "runtime.etext" {print $1}' "$nm")" <"$nm")
	if [ -n "$etext" ] && [ "$etext" -gt 0 ]; then
		got=$("$gc" -s "3:$((etext - text))" "$bin" | awk '$1 == "sweep" {print $3, $4, ($2 > 0)}')
		check "$tag pc sweep of Go text: no gaps, no table errors" "0 0 1" "$got"
	else
		skp "$tag pc sweep (no runtime.etext in nm)"
	fi
}

# --- build matrix ---


# stripcopy SRC DST
stripcopy() {
	cp "$1" "$2" && strip "$2"
}

# same_text A B: .text at the same place and byte-identical pclntab
# sections, so B's function addresses and lines are A's. (-ldflags=-s -w
# shifts data, so RIP-relative operands in .text differ, but no code moves.)
same_text() {
	local re='print "$1 $2\n" if /\]\s+\.text\s+\S+\s+([0-9a-f]+)\s+\S+\s+([0-9a-f]+)/' s
	[ "$(readelf -SW "$1" | perl -ne "$re")" = "$(readelf -SW "$2" | perl -ne "$re")" ] ||
		return 1
	for s in .gopclntab .data.rel.ro.gopclntab; do
		objcopy -O binary --only-section=$s "$1" "$1.sec" &&
			objcopy -O binary --only-section=$s "$2" "$2.sec" &&
			cmp -s "$1.sec" "$2.sec" || return 1
		rm -f "$1.sec" "$2.sec"
	done
}

have_lld=0
command -v ld.lld >/dev/null && have_lld=1
toolchains=$("$here/fetch-toolchains.sh")
ref_go=$(echo "$toolchains" | awk '$2 != "skipped:" {g = $2 "/bin/go"} END {print g}')
last=
while read -r v groot rest; do
	if [ "$groot" = skipped: ]; then
		skp "go$v: $rest"
		continue
	fi
	go=$groot/bin/go
	d=$work/go$v
	rm -rf "$d"
	mkdir -p "$d"
	# name twin stripped cgo args
	variants=(
		"plain plain 0 0"
		"stripped plain 1 0 -ldflags=-s -w"
		"pie pie 0 0 -buildmode=pie"
		"pie-strip pie 1 -"
		"cgo cgo 0 1 -tags=withc"
		"cgo-strip cgo 1 -"
		"external external 0 1 -ldflags=-linkmode=external"
		"cgo-pie cgo-pie 0 1 -tags=withc -buildmode=pie"
		"cgo-pie-strip cgo-pie 1 -"
	)
	if [ $have_lld = 1 ]; then
		variants+=("cgo-pie-lld cgo-pie-lld 0 1 -tags=withc -buildmode=pie -ldflags=-extldflags=-fuse-ld=lld"
			"cgo-pie-lld-strip cgo-pie-lld 1 -")
	else
		skp "go$v cgo-pie-lld: ld.lld not installed"
	fi
	for spec in "${variants[@]}"; do
		read -r name twin stripped cgo args <<<"$spec"
		tag=go$v/$name
		bin=$d/$name
		if [ "$cgo" = - ]; then
			stripcopy "$d/$twin" "$bin" || { bad "$tag: strip failed"; continue; }
		else
			case $args in
			-ldflags=-s\ -w) set -- "-ldflags=-s -w" ;;
			*) set -- $args ;;
			esac
			if ! gobuild "$groot" "$bin" "$cgo" "$@"; then
				bad "$tag: go build failed: $(tail -n 3 "$bin.log")"
				continue
			fi
			[ "$stripped" = 1 ] && strip "$bin"
		fi
		if [ "$twin" != "$name" ] && ! same_text "$bin" "$d/$twin"; then
			skp "$tag: code placed differently from $twin, no ground truth"
			continue
		fi
		check_binary "$tag" "$go" "$bin" "$d/$twin" "$stripped"
	done

	# Pre-1.18 buildinfo: pointers to a Go string header instead of inline
	# strings. Emulated by pointing the header at runtime.buildVersion.
	want=$("$go" version "$d/plain" | awk '{print $2}')
	p=$d/ptr-buildinfo
	cp "$d/plain" "$p"
	bo=$((16#$(section_off "$p" .go.buildinfo)))
	bv=$("$go" tool nm "$p" | awk '$3 == "runtime.buildVersion" {print $1}')
	poke "$p" $((bo + 15)) C 0
	poke "$p" $((bo + 16)) Q "$((16#$bv))"
	poke "$p" $((bo + 24)) Q "$((16#$bv))"
	got=$("$go" version "$p" 2>&1 | awk '{print $2}')
	check "go$v pointer-format buildinfo: go version agrees" "$want" "$got"
	got=$("$gc" -P "$p" | awk '$1 == "version" {print $2}')
	check "go$v pointer-format buildinfo" "$want" "$got"

	# No buildinfo at all: fall back to the runtime.buildVersion symbol.
	p=$d/no-buildinfo
	cp "$d/plain" "$p"
	poke "$p" "$bo" C 0
	got=$("$gc" "$p" | awk '$1 == "version" {print $2}')
	check "go$v version from runtime.buildVersion when buildinfo is gone" "$want" "$got"
	got=$("$gc" -P "$p" runtime.gopark | awk '$1 == "version" {print $2} $1 == "func" {print $2}' |
		tr '\n' ' ')
	check "go$v no buildinfo, no symtab: no version, functions still found" "? runtime.gopark " "$got"

	# A RELATIVE-relocated textStart left zero in the file (as lld does).
	p=$d/zero-textstart
	cp "$d/cgo-pie-strip" "$p"
	pa=$("$go" tool nm "$d/cgo-pie" | awk '$3 == "runtime.pclntab" {print $1}')
	po=$(vaddr2off "$p" "$pa")
	poke "$p" $((po + 24)) Q 0
	want=$(nmfunc "$d/cgo-pie.nm" runtime.text | cut -d' ' -f1)
	got=$("$gc" "$p" | awk '$1 == "textstart" {print $2}')
	check "go$v textStart recovered from .rela.dyn" "$want" "$got"
	last=$d
done <<<"$toolchains"

# --- bad input ---

# expect_error DESC FILE PATTERN: exit status 1 and a matching message
expect_error() {
	local msg rc
	msg=$("$gc" "$2" runtime.gopark 0x401000 2>&1)
	rc=$?
	if [ $rc = 1 ] && echo "$msg" | grep -q -- "$3"; then
		ok "$1 -> $(echo "$msg" | head -n1)"
	else
		bad "$1: exit $rc, '$(echo "$msg" | head -n1)'"
	fi
}
bad_dir=$work/bad
rm -rf "$bad_dir"
mkdir -p "$bad_dir"
expect_error "non-Go ELF /bin/true" "$(readlink -f /bin/true)" "not a Go binary"
: >"$bad_dir/empty"
expect_error "empty file" "$bad_dir/empty" "not an ELF"
echo "#!/bin/sh" >"$bad_dir/script"
expect_error "shell script" "$bad_dir/script" "not an ELF"
expect_error "directory" "$bad_dir" "not a regular file"
expect_error "missing file" "$bad_dir/nonexistent" "No such file"
if [ -z "$last" ]; then
	bad "no toolchain built anything; skipping corrupt-input tests"
else
	base=$last/cgo-pie-strip
	size=$(stat -c %s "$base")
	head -c $((size / 2)) "$base" >"$bad_dir/trunc-half"
	expect_error "truncated Go binary (half)" "$bad_dir/trunc-half" "truncated"
	head -c 100 "$base" >"$bad_dir/trunc-100"
	expect_error "truncated Go binary (100 bytes)" "$bad_dir/trunc-100" "truncated"
	head -c 4096 "$base" >"$bad_dir/trunc-4k"
	expect_error "truncated Go binary (4 KiB)" "$bad_dir/trunc-4k" "truncated"

	# Random corruption: a clean error or a (possibly wrong) answer, never a
	# crash or a sanitizer report.
	nfuzz=${GOELF_FUZZ:-120}
	checker=${gca:-$gc}
	[ -n "$gca" ] || skp "sanitizer build failed; fuzzing the plain build"
	pa=$("$go" tool nm "$last/cgo-pie" | awk '$3 == "runtime.pclntab" {print $1}')
	pclo=$(vaddr2off "$base" "$pa")
	pcln_end=$(("$pclo" + 16#$("$go" tool nm "$last/cgo-pie" |
		awk '$3 == "runtime.epclntab" {print $1}') - 16#$pa))
	bio=$((16#$(section_off "$base" .go.buildinfo)))
	crashes=0 results=
	for i in $(seq 1 "$nfuzz"); do
		f=$bad_dir/fuzz
		cp "$base" "$f"
		case $((i % 5)) in
		0) lo=$pclo hi=$((pclo + 96)) n=2 ;;     # pclntab header
		1) lo=$pclo hi=$pcln_end n=32 ;;         # pclntab tables
		2) lo=0 hi=1024 n=2 ;;                   # ELF and program headers
		3) lo=$bio hi=$((bio + 64)) n=3 ;;       # build info
		4) lo=0 hi=$size n=256 ;;                # anywhere
		esac
		perl -e 'srand($ARGV[0]); open(F, "+<", $ARGV[1]) or die;
			for (1 .. $ARGV[4]) { seek(F, $ARGV[2] + int(rand($ARGV[3] - $ARGV[2])), 0);
				print F chr(int(rand(256))) }' "$i" "$f" "$lo" "$hi" "$n"
		"$checker" -P -s 13:0x100000 "$f" $funcs 0x401000 0x$pa >"$f.out" 2>&1
		rc=$?
		results="$results $rc"
		if [ $rc -gt 1 ]; then
			crashes=$((crashes + 1))
			cp "$f" "$bad_dir/crash-$i"
			echo "      mutation $i: exit $rc, kept as $bad_dir/crash-$i: $(tail -n 2 "$f.out")"
		fi
	done
	summary=$(echo $results | tr ' ' '\n' | sort | uniq -c | awk '{printf "%s exit %s, ", $1, $2}')
	check "$nfuzz randomly corrupted binaries${gca:+ (ASan+UBSan)}: ${summary%, }" 0 "$crashes"

	if [ "${GOELF_VALGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
		for f in "$bad_dir/trunc-half" "$(readlink -f /bin/true)" "$base"; do
			valgrind -q --error-exitcode=99 "$gc" -s 97:0x80000 "$f" $funcs 0x$pa \
				>"$bad_dir/vg.out" 2>&1
			rc=$?
			if [ $rc -le 1 ]; then
				ok "valgrind clean on $(basename "$f") (exit $rc)"
			else
				bad "valgrind on $f: exit $rc: $(head -n 5 "$bad_dir/vg.out")"
			fi
		done
	else
		skp "valgrind runs"
	fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ $fail = 0 ]
