#!/bin/sh
# Installs the Debian packages that building and testing need, and only the
# ones missing. Needs root when something is missing.
set -e
pkgs="clang libbpf-dev bpftool libelf-dev libdw-dev zlib1g-dev libzstd-dev make gcc
pkg-config golang-go protobuf-compiler python3 python3-protobuf python3-zstandard linux-perf chromium wrk"
missing=
for p in $pkgs; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$s" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || apt-get update
apt-get install -y -qq --no-install-recommends $missing >/dev/null
