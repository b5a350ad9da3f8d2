#!/bin/sh
# deps.sh - install the Debian packages pxfs builds, tests and runs with.
# Installs only what is missing; needs root (apt-get) when anything is.
set -eu

pkgs="build-essential pkg-config libfuse3-dev fuse3 libsqlite3-dev sqlite3
libzstd-dev zstd libssl-dev openssl libmagic-dev check attr python3
psmisc bc libhiredis-dev redis-server redis-tools clang libclang-rt-14-dev
rsync git iproute2 util-linux"

missing=
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	     grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
