#!/bin/sh
# SPDX-License-Identifier: MIT
# deps.sh - the Debian packages only `make bench` needs: the peers pxfs is
# measured against (squashfs-tools and squashfuse).  Installs only what is
# missing; needs root (apt-get) when anything is.  tools/deps.sh has the
# rest.
set -eu

pkgs="squashfs-tools squashfuse"

missing=
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	     grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: missing Debian packages:$missing (run as root to" \
	     "install; their cases are skipped)" >&2
	exit 0
fi
echo "bench: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
