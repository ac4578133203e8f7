#!/bin/bash
# Fetches Go toolchains as Debian packages into a cache the tests own, without
# touching the host's apt sources: apt-get download with private lists, then
# dpkg -x. Prints "VERSION GOROOT" per toolchain it has, and
# "VERSION skipped: REASON" for one it cannot get.
#
# usage: fetch-toolchains.sh [CACHE_DIR]   (default: tests/.cache/go)
set -u
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-$here/../.cache/go}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
state=$cache/apt
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$cache/debs"

# The Debian archive this machine already uses, read from its apt
# configuration (deb822 .sources first, then one-line lists): the first URI
# of an entry whose suites are not -security ones.
mirror_uri() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk 'BEGIN { RS = ""; FS = "\n" }
		{
			uri = ""; suites = ""; deb = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
				if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
				if ($i ~ /^Suites:/) suites = $i
			}
			if (deb && uri != "" && suites !~ /-security/) { print uri; exit }
		}' "$f"
	done | head -n1 | grep . && return
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $0 !~ /-security/ {
			for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; exit }
		}' | head -n1 | grep .
}

aptopts=(-o Dir::Etc::sourcelist="$state/sources.list" -o Dir::Etc::sourceparts=-
	-o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache"
	-o Debug::NoLocking=1 -o APT::Get::List-Cleanup=0)

# Go 1.19 is the host's golang-go.
if [ -x /usr/lib/go-1.19/bin/go ]; then
	echo "1.19 /usr/lib/go-1.19"
else
	echo "1.19 skipped: golang-go (1.19) is not installed"
fi

want="1.21 1.22 1.23 1.24"
if ! uri=$(mirror_uri); then
	for v in $want; do
		echo "$v skipped: no Debian archive in the host's apt configuration"
	done
	exit 0
fi
cat >"$state/sources.list" <<SRC
deb $uri bookworm-backports main
deb $uri trixie main
SRC
need=
for v in $want; do
	[ -x "$cache/go-$v/usr/lib/go-$v/bin/go" ] || need="$need $v"
done
if [ -n "$need" ] && [ ! -s "$state/updated" ]; then
	if apt-get "${aptopts[@]}" update >"$state/update.log" 2>&1; then
		date >"$state/updated"
	fi
fi
for v in $want; do
	root=$cache/go-$v/usr/lib/go-$v
	if [ ! -x "$root/bin/go" ]; then
		rm -rf "$cache/go-$v"
		(cd "$cache/debs" && apt-get "${aptopts[@]}" download "golang-$v-go" "golang-$v-src" \
			>"$cache/debs/download-$v.log" 2>&1)
		ok=1
		for p in golang-$v-go golang-$v-src; do
			deb=$(ls -t "$cache/debs/${p}_"*.deb 2>/dev/null | head -n1)
			if [ -z "$deb" ]; then ok=0; break; fi
			dpkg -x "$deb" "$cache/go-$v" || ok=0
		done
		if [ $ok = 0 ] || [ ! -x "$root/bin/go" ]; then
			echo "$v skipped: could not download golang-$v-go (see $cache/debs/download-$v.log)"
			continue
		fi
	fi
	echo "$v $root"
done
