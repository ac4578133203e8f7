# Shared by the goelf shell suites (sourced, not run): counters, the
# checker build, the Go build, and the Go environment. Callers set `here`,
# `root`, `work`, `quiet` and `goprog` (the Go program's directory) first.
export GOTOOLCHAIN=local GOFLAGS= GO111MODULE=on
export GOCACHE=${GOCACHE:-$root/tests/.cache/go-build}

pass=0 fail=0 skip=0
ok() {
	pass=$((pass + 1))
	[ "$quiet" = 1 ] || echo "ok    $*"
}
bad() {
	fail=$((fail + 1))
	echo "FAIL  $*"
}
skp() {
	skip=$((skip + 1))
	echo "skip  $*"
}

# Builds tests/go/goelf_check.c with user/goelf.c into $gc, and a sanitized
# copy into $gca (empty when the sanitizers are not available); exits the
# suite with a count line when the plain build fails.
build_goelf_check() {
	local cflags="-O2 -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter
		-Wno-missing-field-initializers -D_GNU_SOURCE -I$root/user"

	gc=$work/goelf_check
	if ${CC:-gcc} $cflags "$here/goelf_check.c" "$root/user/go/goelf.c" -lelf -o "$gc"; then
		ok "build goelf_check"
	else
		bad "build goelf_check"
		echo "0 passed, 1 failed"
		exit 1
	fi
	gca=$work/goelf_check_asan
	if ! ${CC:-gcc} $cflags -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
		"$here/goelf_check.c" "$root/user/go/goelf.c" -lelf -o "$gca" 2>/dev/null; then
		gca=
	fi
}

# gobuild GOROOT OUT CGO [build args]: builds $goprog with that toolchain.
gobuild() {
	local groot=$1 o=$2 cgo=$3
	shift 3
	(cd "$goprog" && GOROOT=$groot PATH=$groot/bin:$PATH CGO_ENABLED=$cgo \
		go build -o "$o" "$@" .) >"$o.log" 2>&1
}
