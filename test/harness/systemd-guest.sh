#!/bin/bash
# systemd-guest.sh — runs inside the booted Debian 12 (systemd as PID 1, UML kernel),
# started by failoverd-systemd-test.service; test/uml/systemd/ boots it. Installs
# /root/failoverd.deb with apt and checks the unit under real systemd. Writes one
# line per check to /root/result: "ok NAME: detail" or "FAIL NAME: detail", then
# "done"; the host reads the file after the guest powers off.
set -u
out=/root/result
: > "$out"
ok() { echo "ok $1: ${2:-}" >> "$out"; }
fail() { echo "FAIL $1: ${2:-}" >> "$out"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "$(cat /tmp/why 2>/dev/null)"; fi; }
wait_until() { # SECONDS CMD...: true once CMD succeeds
  local deadline=$((SECONDS + $1)); shift
  while [ $SECONDS -lt $deadline ]; do "$@" && return 0; sleep 0.2; done
  return 1
}
prop() { systemctl show -P "$1" failoverd; }
export DEBIAN_FRONTEND=noninteractive

for m in ip_vs ip_vs_rr ip_vs_wlc veth; do modprobe "$m" || fail modprobe "$m"; done
# eth0: one end of a veth pair (a dummy has no MULTICAST flag, VRRP adverts need it).
ip link add eth0 type veth peer name wire0 && ip link set wire0 up && ip link set eth0 up \
  && ip addr add 10.6.2.10/24 dev eth0 || fail eth0 "$(ip -br link)"

# apt installs a local .deb without a network when its dependencies are there.
if apt-get install -y --no-install-recommends /root/failoverd.deb > /tmp/apt.log 2>&1; then
  ok install "$(dpkg-query -W -f='${Package} ${Version} ${Architecture}' failoverd)"
else
  fail install "$(tail -n 5 /tmp/apt.log | tr '\n' ' ')"
fi
ok depends "$(dpkg-query -W -f='${Depends}' failoverd)"
getent group failoverd >/dev/null && ok group "$(getent group failoverd)" || fail group "no failoverd group"
ok conffile "$(dpkg-query -W -f='${Conffiles}' failoverd | tr '\n' ' ')"
ok config-mode "$(stat -c '%A %U:%G' /etc/failoverd/failoverd.yaml)"
man -w failoverd >/dev/null 2>&1; [ -f /usr/share/man/man8/failoverd.8.gz ] && [ -f /usr/share/man/man5/failoverd.yaml.5.gz ] \
  && ok man-pages || fail man-pages "missing"
command -v node >/dev/null && fail no-system-node "$(command -v node)" || ok no-system-node "no node on PATH"
if failoverd check --config /etc/failoverd/failoverd.yaml > /tmp/check.log 2>&1; then
  ok example-config "$(head -n 1 /tmp/check.log)"
else
  fail example-config "$(head -n 3 /tmp/check.log | tr '\n' ' ')"
fi

# Not a check of failoverd: what the unit's former ProcSubset=pid beside
# ReadWritePaths=/proc/sys/net does under this systemd (why the unit no longer has it).
echo "note procsubset-pid: $(systemd-run --wait -p ProcSubset=pid -p ProtectKernelTunables=yes \
  -p ReadWritePaths=/proc/sys/net /bin/true 2>&1 | tr '\n' ' ')" >> "$out"

config() { # SCHEDULER [EXTRA-SERVICE [EXTRA-INSTANCE-LINES]]
  cat > /etc/failoverd/failoverd.yaml <<YAML
node: { name: guest }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    priority: 150
    advert_interval: 1s
    vips: [10.6.2.195/32]
${3:-}
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    scheduler: $1
    forwarding: dr
    real_servers:
      - { address: 10.6.2.191, weight: 1 }
${2:-}
YAML
}
config rr
# The shipped unit, but more time to start: in UML on a shared machine the unit's
# ExecStartPre (failoverd check) alone took 27 s (13.9 s CPU) in this harness's runs.
mkdir -p /etc/systemd/system/failoverd.service.d
printf '[Service]\nTimeoutStartSec=300s\n' > /etc/systemd/system/failoverd.service.d/slow-machine.conf
systemctl daemon-reload

# Start: active only after the agent's READY=1. The SubState is "start" while the
# main process runs and systemd waits for READY; StatusText is the agent's own.
( for _ in $(seq 1 1500); do prop SubState; sleep 0.05; done > /tmp/substates ) &
poller=$!
started=$SECONDS
systemctl start failoverd; rc=$?
kill $poller 2>/dev/null; wait $poller 2>/dev/null
subs=$(uniq /tmp/substates | tr '\n' ' ')
if [ $rc = 0 ] && [ "$(prop ActiveState)" = active ] && grep -qx start /tmp/substates \
   && [ -n "$(prop StatusText)" ] && [ "$(prop Type)" = notify ]; then
  ok start-after-ready "start took $((SECONDS - started)) s; substates: $subs; StatusText: $(prop StatusText)"
else
  fail start-after-ready "rc $rc; state $(prop ActiveState)/$(prop SubState) result $(prop Result); substates: $subs; $(journalctl -u failoverd -n 15 --no-pager | tr '\n' ' ')"
fi
pid=$(prop MainPID)

caps=$(grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/$pid/status | tr '\t\n' '  ')
decoded=$(capsh --decode="$(awk '/^CapEff/ {print $2}' /proc/$pid/status)" 2>/dev/null)
if grep -q "CapPrm:	0000000000003000" /proc/$pid/status && grep -q "CapEff:	0000000000003000" /proc/$pid/status \
   && grep -q "CapBnd:	0000000000003000" /proc/$pid/status; then
  ok capabilities "$caps; $decoded; user $(stat -c %U /proc/$pid)"
else
  fail capabilities "$caps; $decoded"
fi

exposure=$(systemd-analyze security failoverd.service 2>/dev/null | sed -n 's/.*Overall exposure level for failoverd.service: \([0-9.]*\).*/\1/p')
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
  ok exposure "$exposure"
else
  fail exposure "${exposure:-none}: $(systemd-analyze security failoverd.service 2>&1 | grep -E '✗' | head -n 20 | tr '\n' ';')"
fi

ipvs() { grep -E '^(TCP|UDP)' /proc/net/ip_vs | awk '{print $1, $2, $3}' | tr '\n' ';'; }
wait_until 30 grep -q 'rr' /proc/net/ip_vs
before=$(ipvs)
config wlc "  - { name: web-443, vip: 10.6.2.195, port: 443, scheduler: wlc, forwarding: dr, real_servers: [{ address: 10.6.2.191 }] }"
systemctl reload failoverd; rc=$?
if [ $rc = 0 ] && wait_until 30 sh -c "[ \$(grep -c 'wlc' /proc/net/ip_vs) = 2 ]" && [ "$(prop MainPID)" = "$pid" ]; then
  ok reload "before: $before after: $(ipvs)"
else
  fail reload "rc $rc; before: $before after: $(ipvs); $(journalctl -u failoverd -n 10 --no-pager | tr '\n' ' ')"
fi

after_good=$(ipvs)
echo 'services: [ { name: broken, vip: not-an-address' >> /etc/failoverd/failoverd.yaml
systemctl reload failoverd > /tmp/reload.log 2>&1; rc=$?
sleep 2
if [ $rc != 0 ] && [ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" = "$pid" ] && [ "$(ipvs)" = "$after_good" ]; then
  ok bad-reload-rejected "reload exit $rc, still active, pid $pid, table $(ipvs); $(journalctl -u failoverd -n 3 --no-pager -o cat | tr '\n' ' ' | cut -c1-300)"
else
  fail bad-reload-rejected "rc $rc; $(prop ActiveState) pid $(prop MainPID) (was $pid); table $(ipvs)"
fi
config wlc "  - { name: web-443, vip: 10.6.2.195, port: 443, scheduler: wlc, forwarding: dr, real_servers: [{ address: 10.6.2.191 }] }"

# A hung agent: the watchdog (WatchdogSec) kills it and Restart= starts a new one
# (which, with its ExecStartPre, takes as long as the first start).
restarts=$(prop NRestarts)
kill -STOP "$pid"
stopped=$SECONDS
if wait_until 300 sh -c "p=\$(systemctl show -P MainPID failoverd); [ \"\$p\" != 0 ] && [ \"\$p\" != $pid ] && [ \"\$(systemctl show -P SubState failoverd)\" = running ]"; then
  ok watchdog "pid $pid stopped, new pid $(prop MainPID) running after $((SECONDS - stopped)) s; NRestarts $restarts -> $(prop NRestarts); $(journalctl -u failoverd --no-pager -o cat | grep -i watchdog | head -n 1)"
else
  fail watchdog "state $(prop ActiveState)/$(prop SubState) pid $(prop MainPID); $(journalctl -u failoverd -n 10 --no-pager -o cat | tr '\n' ' ')"
fi
pid=$(prop MainPID)

# Stop: the agent resigns with a priority-0 advert. Master first (it is alone on eth0).
wait_until 30 sh -c "ip -o addr show dev eth0 | grep -q 10.6.2.195"
tcpdump -i eth0 -n -v -l 'ip proto 112' > /tmp/adverts 2>/dev/null &
dump=$!
sleep 3
systemctl stop failoverd; rc=$?
sleep 1
kill $dump; wait $dump 2>/dev/null
if [ $rc = 0 ] && grep -q 'prio 0' /tmp/adverts && [ "$(prop ActiveState)" = inactive ]; then
  ok stop-priority-0 "$(grep 'prio 0' /tmp/adverts | head -n 1)"
else
  fail stop-priority-0 "rc $rc state $(prop ActiveState); adverts: $(tail -n 4 /tmp/adverts | tr '\n' ' ')"
fi
# Programs the config runs (here a notify_master-style program) run as the agent does:
# under the shipped unit as user failoverd with /var read-only; with the packaged
# scripts-as-root drop-in (what an import from keepalived points to) as root, able to
# write where keepalived's scripts could.
config rr "" "    notify:
      on_master: [/bin/sh, -c, 'id -u > /run/failoverd/notify-uid; touch /var/lib/failoverd-notify-ran 2> /run/failoverd/notify-touch']"
notify_run() { # -> "uid wrote|not-written (touch's error)"
  rm -f /var/lib/failoverd-notify-ran
  systemctl start failoverd || { echo "start failed: $(journalctl -u failoverd -n 5 --no-pager -o cat | tr '\n' ' ')"; return; }
  if wait_until 300 test -s /run/failoverd/notify-uid; then
    sleep 0.5
    if [ -e /var/lib/failoverd-notify-ran ]; then echo "$(cat /run/failoverd/notify-uid) wrote"
    else echo "$(cat /run/failoverd/notify-uid) not-written ($(cat /run/failoverd/notify-touch 2>/dev/null))"; fi
  else
    echo "no notify run: $(journalctl -u failoverd -n 5 --no-pager -o cat | tr '\n' ' ')"
  fi
  systemctl stop failoverd
}
as_shipped=$(notify_run)
dropin=/usr/share/failoverd/systemd/scripts-as-root.conf
install -D -m 0644 "$dropin" /etc/systemd/system/failoverd.service.d/scripts-as-root.conf && systemctl daemon-reload
as_root=$(notify_run)
verify=$(systemd-analyze verify /lib/systemd/system/failoverd.service 2>&1 | grep scripts-as-root | tr "\n" " ")
if [ "${as_shipped%% *}" = "$(id -u failoverd)" ] && case "$as_shipped" in *not-written*) true;; *) false;; esac \
   && [ "$as_root" = "0 wrote" ] && [ -z "$verify" ]; then
  ok scripts-as-root "shipped unit: uid $as_shipped; with $dropin: uid $as_root"
else
  fail scripts-as-root "shipped unit: $as_shipped; with the drop-in: $as_root; systemd-analyze verify: $verify"
fi
rm -f /etc/systemd/system/failoverd.service.d/scripts-as-root.conf && systemctl daemon-reload
# vrrp_realtime under the packaged realtime drop-in: the main thread (the VRRP thread)
# SCHED_RR at the priority, node started with --single-threaded --expose-gc
# --no-memory-reducer, and the agent's log saying so without an error or a GC warning,
# and with its checks worker started with the options it can take.
config rr
echo 'vrrp_realtime: { priority: 50 }' >> /etc/failoverd/failoverd.yaml
dropin=/usr/share/failoverd/systemd/realtime.conf
install -D -m 0644 "$dropin" /etc/systemd/system/failoverd.service.d/realtime.conf && systemctl daemon-reload
since=$(date '+%Y-%m-%d %H:%M:%S')
systemctl start failoverd; rc=$?
pid=$(prop MainPID)
scheduling=$(chrt -p "$pid" 2>&1 | tr '\n' ' ')
cmdline=$(tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null)
said=$(journalctl -u failoverd --since "$since" --no-pager -o cat | grep 'vrrp_realtime' | tr '\n' ' ')
refused=$(journalctl -u failoverd --since "$since" --no-pager -o cat | grep 'invalid execArgv' | tr '\n' ' ')
verify=$(systemd-analyze verify /lib/systemd/system/failoverd.service 2>&1 | grep realtime | tr "\n" " ")
if [ $rc = 0 ] && case "$scheduling" in *"SCHED_RR|SCHED_RESET_ON_FORK"*"priority: 50"*) true;; *) false;; esac \
   && case "$cmdline" in *"--single-threaded --expose-gc --no-memory-reducer"*) true;; *) false;; esac \
   && case "$said" in *"runs under SCHED_RR 50"*) true;; *) false;; esac \
   && ! case "$said" in *"could not"*|*"helper threads"*|*"without --expose-gc"*|*"memory reducer"*) true;; *) false;; esac \
   && [ -z "$refused" ] && [ -z "$verify" ]; then
  ok realtime "with $dropin: $scheduling; $cmdline; $said"
else
  fail realtime "rc $rc; $scheduling; cmdline: $cmdline; log: $said; $refused; systemd-analyze verify: $verify; $(journalctl -u failoverd -n 5 --no-pager -o cat | tr '\n' ' ')"
fi
systemctl stop failoverd
rm -f /etc/systemd/system/failoverd.service.d/realtime.conf && systemctl daemon-reload
journalctl -u failoverd --no-pager -o short-monotonic > /root/journal 2>&1
echo done >> "$out"
