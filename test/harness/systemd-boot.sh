#!/usr/bin/env bash
# systemd-boot.sh DEB [OUTDIR] — boots the cached Debian 12 root (debian-root.sh) in the
# UML kernel with systemd as PID 1, installs DEB there with apt and runs the checks of
# systemd-guest.sh. Each boot gets a fresh copy of the root, so the cache stays clean.
# Prints the guest's result lines; OUTDIR (default: a scratch directory, removed) keeps
# result, journal and console. Exit 0 when every check passed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/uml-kernel.sh"
deb=$(readlink -f "${1:?usage: systemd-boot.sh DEB [OUTDIR]}")
keep=${2:-}
[ -x "$uml_kernel" ] && [ -d "$uml_moddir" ] || { echo "systemd-boot: no UML kernel installed ($uml_kernel)" >&2; exit 3; }
tarball=$("$here/debian-root.sh")
work=$(mktemp -d /tmp/failoverd-systemd.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir "$root"
tar -C "$root" -xf "$tarball"
cp "$deb" "$root/root/failoverd.deb"
install -m 0755 "$here/systemd-guest.sh" "$root/usr/local/sbin/failoverd-systemd-test"
cat > "$root/etc/systemd/system/failoverd-systemd-test.service" <<'UNIT'
[Unit]
Description=failoverd package test under systemd
After=basic.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/failoverd-systemd-test
ExecStartPost=/bin/systemctl --no-block poweroff
ExecStopPost=/bin/systemctl --no-block poweroff
TimeoutStartSec=1200
StandardOutput=journal+console
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/failoverd-systemd-test.service "$root/etc/systemd/system/multi-user.target.wants/"
# No consoles to log in on, no network to wait for.
for unit in getty.target console-getty.service systemd-networkd-wait-online.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
echo failoverd-guest > "$root/etc/hostname"
# The kernel's modules live on the host: mount them (hostfs) where modprobe looks, then systemd.
cat > "$root/sbin/failoverd-uml-init" <<INIT
#!/bin/sh
mkdir -p /usr/lib/modules/\$(uname -r)
mount -t hostfs none /usr/lib/modules/\$(uname -r) -o $uml_moddir
exec /lib/systemd/systemd
INIT
chmod 0755 "$root/sbin/failoverd-uml-init"
set +e
timeout --foreground 1500 "$uml_kernel" mem=1G rootfstype=hostfs rootflags="$root" rw \
  init=/sbin/failoverd-uml-init con=null con0=null,fd:1 ssl=null systemd.show_status=0 \
  > "$work/console" 2>&1
st=$?
set -e
[ -n "$keep" ] && mkdir -p "$keep" && cp "$work/console" "$root/root/result" "$root/root/journal" "$keep/" 2>/dev/null || true
if [ ! -s "$root/root/result" ]; then
  echo "systemd-boot: the guest wrote no result (kernel status $st); console tail:" >&2
  tail -n 30 "$work/console" >&2
  exit 1
fi
cat "$root/root/result"
grep -qx done "$root/root/result" && ! grep -q '^FAIL' "$root/root/result"
