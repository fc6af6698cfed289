#!/usr/bin/env bash
# debian-root.sh — a Debian 12 root file system with systemd, for booting under the
# UML kernel (test/uml/systemd/). Built once with mmdebstrap from this machine's own
# apt sources (/etc/apt/sources.list, sources.list.d/*.sources and *.list) and cached
# as a tarball; printed path on stdout. Kept lean: minbase, systemd, and what the
# test and `apt install ./failoverd_*.deb` need.
#
#   debian-root.sh            print the cached tarball, building it when missing
#   FAILOVERD_ROOT_CACHE=DIR  cache directory (default /var/cache/failoverd)
set -euo pipefail
cache=${FAILOVERD_ROOT_CACHE:-/var/cache/failoverd}
# The package list is part of the name: a change to it builds a new root.
packages="systemd,dbus,iproute2,tcpdump,kmod,procps,libcap2-bin,ca-certificates"
tag=$(printf %s "$packages" | sha256sum | cut -c1-8)
tarball=$cache/debian12-systemd-$tag.tar
if [ -s "$tarball" ]; then echo "$tarball"; exit 0; fi
command -v mmdebstrap >/dev/null || { echo "debian-root: mmdebstrap missing (apt-get install mmdebstrap)" >&2; exit 3; }
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || { echo "debian-root: no apt sources in /etc/apt to build from" >&2; exit 3; }
mkdir -p "$cache"
echo "debian-root: building $tarball with mmdebstrap (once; minutes)" >&2
mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  bookworm "$tarball.part" "${sources[@]}" >&2
mv "$tarball.part" "$tarball"
echo "$tarball"
