#!/usr/bin/env bash
# prebuilds.sh — the node-api addon prebuilt for linux-x64 and linux-arm64 into
# prebuilds/<platform>-<arch>/, where node-gyp-build finds it at run time, so the npm
# package and the .deb install without a compiler. arm64 is cross-compiled with
# Debian's gcc-aarch64-linux-gnu. Runs before `npm pack` (prepack) and `npm run package`.
# The x64 build runs last, so build/Release is this machine's addon again afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
want=("$@"); [ ${#want[@]} -gt 0 ] || want=(x64 arm64)
wants() { [[ " ${want[*]} " == *" $1 "* ]]; }
gyp=(node node_modules/node-gyp/bin/node-gyp.js --loglevel=warn)
wants arm64 && ! command -v aarch64-linux-gnu-gcc >/dev/null && {
  echo "prebuilds: the arm64 cross compiler is missing; install with:" >&2
  echo "  sudo apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu g++-aarch64-linux-gnu" >&2
  exit 3
}
# The headers installed beside this node when there are any (Debian's and NodeSource's
# nodejs ship them), so no download of them is needed.
prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
[ -f "$prefix/include/node/node_api.h" ] && gyp+=(--nodedir="$prefix")
build() { # ARCH TUPLE [ENV...]
  local arch=$1 tuple=$2; shift 2
  env "$@" "${gyp[@]}" rebuild --arch="$arch" >/dev/null
  rm -rf "prebuilds/$tuple"; mkdir -p "prebuilds/$tuple"
  # node-gyp-build picks a file by its tags: "napi" means any Node with node-api 8.
  cp build/Release/failoverd_native.node "prebuilds/$tuple/failoverd.napi.node"
}
if wants arm64; then
  build arm64 linux-arm64 CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
    AR=aarch64-linux-gnu-ar
  aarch64-linux-gnu-strip prebuilds/linux-arm64/failoverd.napi.node
fi
if wants x64; then
  build x64 linux-x64
  strip prebuilds/linux-x64/failoverd.napi.node
fi
ls -l prebuilds/*/*.node | awk '{print $5, $NF}'
