#!/usr/bin/env bash
# uml-run.sh — run a command as root inside a throwaway User-Mode Linux kernel that
# has IPVS, bridges, veth and network namespaces, and sees this machine's files
# (hostfs). The project's own copy of the idea of the lab's uml-run, so the test
# suite depends on nothing outside the repository.
#
#   uml-run.sh [--mem 2G] [--timeout 600] [--modules "ip_vs ..."] -- CMD [ARG...]
#   uml-run.sh --probe      exit 0 when a UML kernel boots here, else say why
#
# Inside: cwd, PATH, HOME, NODE_*/npm_*/CI/FAILOVERD_* are kept; /proc /sys /run
# /lib/modules are the guest's own. Exit status is CMD's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/uml-kernel.sh"
mem=2G; timeout_s=600; probe=0
modules="ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh ip_vs_sed ip_vs_nq ip_vs_dh ip_vs_lblc ip_vs_lblcr ip_vs_fo ip_vs_ovf ipip ip6_tunnel bridge veth"
while [ $# -gt 0 ]; do
  case "$1" in
    --mem) mem=$2; shift 2;;
    --timeout) timeout_s=$2; shift 2;;
    --modules) modules=$2; shift 2;;
    --probe) probe=1; shift;;
    --) shift; break;;
    -h|--help) sed -n '2,12p' "$0"; exit 0;;
    *) break;;
  esac
done
if [ "$probe" = 1 ]; then set -- true; timeout_s=60; fi
[ $# -gt 0 ] || { echo "uml-run: no command given (see --help)" >&2; exit 2; }
# Exit 3: something is not installed (nothing was booted). `failoverd lab` and
# `npm test` install these first.
[ -x "$uml_kernel" ] || { echo "uml-run: no UML kernel installed ($uml_kernel is missing: apt-get install user-mode-linux)" >&2; exit 3; }
[ -n "$uml_moddir" ] && [ -d "$uml_moddir" ] || { echo "uml-run: no UML modules installed for $uml_kernel (apt-get install user-mode-linux)" >&2; exit 3; }
PATH=$PATH:/usr/sbin:/sbin command -v modprobe >/dev/null || { echo "uml-run: no modprobe installed (apt-get install kmod)" >&2; exit 3; }

work=$(mktemp -d /tmp/failoverd-uml.XXXXXX)
trap 'rm -rf "$work"' EXIT
{ printf 'exec'; printf ' %q' "$@"; echo; } > "$work/cmd.sh"
{
  echo "export PATH=$(printf %q "$PATH") HOME=$(printf %q "${HOME:-/root}")"
  for v in $(compgen -e | grep -E '^(NODE_|npm_|CI$|TERM$|LANG$|LC_|FAILOVERD_)'); do printf 'export %s=%q\n' "$v" "${!v}"; done
  echo "export FAILOVERD_IN_UML=1"
} > "$work/env"
cat > "$work/init" <<INIT
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t tmpfs tmp /run; mkdir -p /run/netns /run/lock
mkdir -p /lib/modules 2>/dev/null; mount -t tmpfs tmp /lib/modules
ln -s $uml_moddir /lib/modules/\$(uname -r)
mount -t tmpfs tmp /dev/shm 2>/dev/null
ip link set lo up
for m in $modules; do modprobe -q \$m 2>/dev/null || echo "uml-run: modprobe \$m failed" >&2; done
. $work/env
cd $(printf %q "$PWD")
bash -c ". $work/env; . $work/cmd.sh" < /dev/null
echo \$? > $work/rc
sync
# poweroff is systemd-sysv's, absent from minimal systems: the kernel's own sysrq then.
poweroff -f 2>/dev/null || echo o > /proc/sysrq-trigger
sleep 10
INIT
chmod +x "$work/init"
set +e
timeout --foreground "$timeout_s" "$uml_kernel" mem="$mem" quiet rootfstype=hostfs rootflags=/ rw \
  init="$work/init" con=null con0=null,fd:1 ssl=null > >(grep --line-buffered -vE '^(reboot: |Powering off|sysrq: Power Off|SELinux: |mmapper_init|Failed to initialize ubd|epollctl add err)' ) 2>&1
st=$?
set -e
if [ -s "$work/rc" ]; then exit "$(cat "$work/rc")"; fi
echo "uml-run: the kernel $uml_kernel stopped without a result (timeout or crash, status $st)" >&2
exit 124
