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
# The package list and the recipe's revision are part of the name: a change to either
# builds a new root.
packages="systemd,dbus,iproute2,tcpdump,kmod,procps,libcap2-bin,ca-certificates"
recipe=2 # 2: no dpkg path excludes left in the root
tag=$(printf %s "$packages $recipe" | sha256sum | cut -c1-8)
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
# The excludes keep the root small while it is built; mmdebstrap writes them into the
# root's dpkg config for good, where they would also drop the man pages of the .deb
# under test, which a stock Debian installs: they are removed once the root is built.
mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='rm -f "$1/etc/dpkg/dpkg.cfg.d/99mmdebstrap"' \
  bookworm "$tarball.part" "${sources[@]}" >&2
mv "$tarball.part" "$tarball"
echo "$tarball"
