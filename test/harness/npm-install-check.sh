#!/usr/bin/env bash
# npm-install-check.sh — the npm route on a director, end to end: `npm pack`, then
# `npm install -g` of the tarball into a scratch prefix with cc, gcc, g++, c++ and
# make hidden from PATH, then the installed `failoverd --help`, `failoverd check` on
# the example config and (with --lab, as root) `failoverd lab` to "all expectations
# held", under the UML lock other UML runs take.
#
#   test/harness/npm-install-check.sh [--lab] [--tarball FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lab=0; tarball=
while [ $# -gt 0 ]; do
  case "$1" in
    --lab) lab=1; shift;;
    --tarball) tarball=$(readlink -f "$2"); shift 2;;
    *) echo "usage: $0 [--lab] [--tarball FILE]" >&2; exit 2;;
  esac
done
work=$(mktemp -d /tmp/failoverd-npm.XXXXXX)
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*"; }

if [ -z "$tarball" ]; then
  step "npm pack (prebuilds for linux-x64 and linux-arm64, then tsc)"
  (cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null)
  tarball=$(ls "$work"/failoverd-*.tgz)
fi
echo "tarball: $tarball ($(du -h "$tarball" | cut -f1))"
tar -tzf "$tarball" | grep -E 'prebuilds/|test/harness/uml-run.sh' | sed 's/^/  /'

# A PATH where every program of this one is a link, except the compilers and make.
step "PATH without a compiler"
mkdir -p "$work/bin"
IFS=: read -ra dirs <<< "$PATH:/usr/sbin:/sbin"
for d in "${dirs[@]}"; do
  # One ln per directory; names already linked from an earlier PATH entry stay.
  [ -d "$d" ] && ln -s "$d"/* "$work/bin/" 2>/dev/null || true
done
(cd "$work/bin" && rm -f cc gcc g++ c++ cpp make gmake clang clang++ ./*-gcc ./*-g++ ./*-gcc-[0-9]* ./*-g++-[0-9]* \
  gcc-[0-9]* g++-[0-9]*)
export PATH=$work/bin
for tool in cc gcc g++ c++ make; do
  if command -v "$tool" >/dev/null; then echo "still on PATH: $tool" >&2; exit 1; fi
done
echo "cc, gcc, g++, c++, make: not on PATH"

step "npm install -g (prefix $work/prefix)"
npm install -g --prefix "$work/prefix" --no-audit --no-fund --foreground-scripts "$tarball" 2>&1 | tail -n 5
pkg=$work/prefix/lib/node_modules/failoverd
[ ! -e "$pkg/build" ] || { echo "the install compiled the addon ($pkg/build exists)" >&2; exit 1; }
echo "no build/ directory: the prebuilt addon is used"
export PATH=$work/prefix/bin:$PATH

step "failoverd --help"
failoverd --help | head -n 3
step "failoverd check (example config)"
failoverd check --config "$pkg/config/failoverd.yaml"
node -e "import('$pkg/dist/src/net/native.js').then((m) => { m.native(); console.log('native addon loads') })"

if [ "$lab" = 1 ]; then
  step "failoverd lab (under /tmp/failoverd-uml.lock)"
  flock /tmp/failoverd-uml.lock failoverd lab 2>&1 | tee "$work/lab.log" | tail -n 25
  grep -Eq '^all [1-9][0-9]* expectations held' "$work/lab.log" && ! grep -q 'the lab stopped early' "$work/lab.log" \
    || { echo "failoverd lab: not all expectations held" >&2; exit 1; }
fi
step "npm route: ok"
