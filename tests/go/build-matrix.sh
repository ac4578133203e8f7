#!/bin/bash
# Builds the Go test programs (tests/goprogs/<name>/main.go) with every Go
# toolchain that tests/go/fetch-toolchains.sh has, in four variants, into
# build/goprogs/<version>/<variant>/<name>:
#
#   plain     CGO_ENABLED=0 go build
#   stripped  CGO_ENABLED=0 go build -ldflags='-s -w', then strip(1)
#   pie       CGO_ENABLED=0 go build -buildmode=pie
#   cgo       CGO_ENABLED=1 go build with an extra file importing "C" (and
#             calling C once at init, so the runtime has done a cgocall)
#
# A binary is rebuilt only when its key (sources, variant recipe, toolchain
# version, this script) changed. The Go build cache, GOPATH and the Go
# config dir are under tests/.cache, so the host's are left alone.
#
# usage: build-matrix.sh [-q] [VERSIONS [VARIANTS [PROGRAMS]]]
#   each a comma-separated list or "all" (default all), e.g.
#   build-matrix.sh 1.19,1.22 plain workerpool,mutex
# Prints one line per binary:
#   VERSION VARIANT NAME PATH          built or up to date
#   VERSION VARIANT NAME FAIL: why     (build log path included)
# and one line per toolchain that is missing:
#   VERSION SKIP: reason
# Exit status 1 if any build failed (skipped toolchains do not fail it).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
progs_dir=$root/tests/goprogs
out_root=${CTRACE_GOPROGS_OUT:-$root/build/goprogs}
cache=$root/tests/.cache

quiet=0
if [ "${1:-}" = -q ]; then
	quiet=1
	shift
fi
want_versions=${1:-all}
want_variants=${2:-all}
want_progs=${3:-all}
all_variants="plain stripped pie cgo"

in_list() { # item list
	[ "$2" = all ] && return 0
	case ",$2," in *",$1,"*) return 0 ;; esac
	return 1
}

for v in ${want_variants//,/ }; do
	[ "$v" = all ] || in_list "$v" "${all_variants// /,}" || {
		echo "unknown variant $v (have: $all_variants)" >&2
		exit 2
	}
done
progs=
for d in "$progs_dir"/*/; do
	n=$(basename "$d")
	[ -f "$d/main.go" ] && in_list "$n" "$want_progs" && progs="$progs $n"
done
for p in ${want_progs//,/ }; do
	[ "$p" = all ] || [ -f "$progs_dir/$p/main.go" ] || {
		echo "unknown program $p" >&2
		exit 2
	}
done

export GOTOOLCHAIN=local GOFLAGS='' GO111MODULE=on GOENV=off GOPROXY=off
export GOCACHE=$cache/go-build GOPATH=$cache/gopath XDG_CONFIG_HOME=$cache/config
mkdir -p "$GOCACHE" "$GOPATH" "$XDG_CONFIG_HOME"

script_sum=$(sha256sum "$0" | cut -c1-16)
have_cc=0
command -v "${CC:-gcc}" >/dev/null 2>&1 && have_cc=1
failed=0

# build GOROOT GOVERSION VERSION VARIANT NAME
build() {
	local goroot=$1 gover=$2 ver=$3 variant=$4 name=$5
	local dir=$out_root/$ver/$variant out key src work
	out=$dir/$name
	src=$progs_dir/$name
	mkdir -p "$dir"
	key="$script_sum $gover $variant $(cat "$src"/*.go | sha256sum | cut -c1-16)"
	if [ -x "$out" ] && [ -f "$out.key" ] && [ "$(cat "$out.key")" = "$key" ]; then
		[ $quiet = 1 ] || echo "$ver $variant $name $out"
		return 0
	fi
	rm -f "$out.key"
	# Private work dir and temporary output: concurrent runs may build the
	# same binary; the last mv wins and every result is complete.
	work=$dir/.src-$name.$$
	rm -rf "$work"
	mkdir -p "$work"
	cp "$src"/*.go "$work/"
	local cgo=0 args=()
	case $variant in
	plain) ;;
	stripped) args=(-ldflags='-s -w') ;;
	pie) args=(-buildmode=pie) ;;
	cgo)
		if [ $have_cc = 0 ]; then
			echo "$ver $variant $name FAIL: no C compiler for cgo"
			failed=1
			return 1
		fi
		cgo=1
		cat >"$work/zz_cgo.go" <<'EOF'
package main

// static int ctrace_cgo_answer(void) { return 42; }
import "C"

func init() {
	if C.ctrace_cgo_answer() != 42 {
		panic("cgo")
	}
}
EOF
		;;
	esac
	local files
	files=$(cd "$work" && ls -- *.go)
	# shellcheck disable=SC2086
	if ! (cd "$work" && GOROOT=$goroot PATH=$goroot/bin:$PATH CGO_ENABLED=$cgo \
		"$goroot/bin/go" build "${args[@]}" -o "$out.tmp.$$" $files) >"$out.log" 2>&1; then
		echo "$ver $variant $name FAIL: go build: $(tail -n 3 "$out.log" | tr '\n' ' ') (log $out.log)"
		rm -rf "$out.tmp.$$" "$work"
		failed=1
		return 1
	fi
	if [ "$variant" = stripped ] && ! strip "$out.tmp.$$" >>"$out.log" 2>&1; then
		echo "$ver $variant $name FAIL: strip: $(tail -n 3 "$out.log" | tr '\n' ' ')"
		rm -rf "$out.tmp.$$" "$work"
		failed=1
		return 1
	fi
	mv "$out.tmp.$$" "$out"
	echo "$key" >"$out.key"
	rm -rf "$work"
	[ $quiet = 1 ] || echo "$ver $variant $name $out"
}

seen=,
while read -r ver rest; do
	[ -n "$ver" ] || continue
	in_list "$ver" "$want_versions" || continue
	seen=$seen$ver,
	case $rest in
	skipped:*)
		echo "$ver SKIP: ${rest#skipped: }"
		continue
		;;
	esac
	goroot=$rest
	gover=$(head -n1 "$goroot/VERSION" 2>/dev/null)
	[ -n "$gover" ] || gover=$("$goroot/bin/go" env GOVERSION 2>/dev/null)
	for variant in $all_variants; do
		in_list "$variant" "$want_variants" || continue
		for name in $progs; do
			build "$goroot" "$gover" "$ver" "$variant" "$name"
		done
	done
done < <(bash "$here/fetch-toolchains.sh")
for ver in ${want_versions//,/ }; do
	[ "$ver" = all ] && continue
	case $seen in *",$ver,"*) ;; *) echo "$ver SKIP: fetch-toolchains.sh does not provide go$ver" ;; esac
done

exit $failed
