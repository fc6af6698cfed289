#!/usr/bin/env bash
# provision-uml.sh — make sure a UML kernel that boots on this host is available.
#
# Debian 12's user-mode-linux (6.1) and Debian 13's (6.12) cannot start user space
# on hosts whose CPUs have AMX: the init process dies with "ptrace set fp regs
# failed, errno = 14" because their FP-state buffer is smaller than the host's
# XSAVE area. Debian unstable's build (7.x) handles it. When Debian 12's kernel
# fails the boot probe, this fetches Debian unstable's user-mode-linux and the
# libc6 it links against (Debian packages, by name, through apt, from the Debian
# mirror this machine's apt already uses: $FAILOVERD_DEBIAN_MIRROR, else read from
# /etc/apt by dist/src/lab/apt-sources.js) into $FAILOVERD_UML_CACHE (default
# /var/cache/failoverd-uml) and points the kernel at that libc with patchelf
# (`failoverd lab` and `npm test` install patchelf first). Nothing is installed
# system-wide.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${FAILOVERD_UML_CACHE:-/var/cache/failoverd-uml}

if bash "$here/uml-run.sh" --probe >/dev/null 2>&1; then
  echo "provision-uml: the UML kernel boots here; nothing to do"
  exit 0
fi
command -v patchelf >/dev/null || { echo "provision-uml: patchelf missing (apt-get install patchelf)" >&2; exit 1; }
mirror=${FAILOVERD_DEBIAN_MIRROR:-$(node "$here/../../dist/src/lab/apt-sources.js")} || {
  echo "provision-uml: set FAILOVERD_DEBIAN_MIRROR to a Debian mirror's URI" >&2; exit 1; }
echo "provision-uml: the installed UML kernel does not boot here; fetching Debian unstable's user-mode-linux from $mirror"
rm -rf "$cache"
mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/debs" "$cache/root"
echo "deb $mirror sid main" > "$cache/apt/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$cache/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq
(cd "$cache/debs" && apt-get "${apt_opts[@]}" download user-mode-linux libc6)
for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$cache/root"; done
libdir=$cache/root/usr/lib/x86_64-linux-gnu
cp "$cache/root/usr/bin/linux.uml" "$cache/linux.uml"
patchelf --set-interpreter "$libdir/ld-linux-x86-64.so.2" --set-rpath "$libdir" "$cache/linux.uml"
rm -rf "$cache/debs" "$cache/apt"
if bash "$here/uml-run.sh" --probe; then
  echo "provision-uml: $("$cache/linux.uml" --version 2>/dev/null | head -n1 || true) ready at $cache/linux.uml"
else
  echo "provision-uml: the provisioned kernel does not boot either" >&2
  exit 1
fi
