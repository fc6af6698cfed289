// The operator's router running FRR 8.4 with the configuration docs/ecmp.md gives (read
// from the page itself, so the page is what this runs): two directors running BIRD 2
// with the page's director configuration announce the route failoverd keeps in table
// 200 (proto 200, added here as the agent adds it). The router's kernel table, read
// with `ip route`, is the independent witness: one multipath route over both
// directors; a withdrawn route takes one next hop away and its return brings it back;
// a power cut of a director (BIRD killed, link down) is detected by FRR's bfdd and its
// next hop goes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, vethPair } from '../../helpers/netns.js';
import { run, tryRun } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const VIP = '10.9.9.9';
const ROUTER = '10.9.1.1';
const DIRECTORS = ['10.9.1.11', '10.9.1.12'];
const FRR_DAEMONS = ['zebra', 'bfdd', 'bgpd'] as const;
const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false;

/** The fenced block that follows the first line of docs/ecmp.md starting with `lead`. */
function docBlock(lead: string): string {
  const page = readFileSync(join(root, 'docs/ecmp.md'), 'utf8');
  const at = page.split('\n').findIndex((l) => l.startsWith(lead));
  assert.ok(at >= 0, `docs/ecmp.md has a line starting "${lead}"`);
  const m = /```\n([\s\S]*?)```/.exec(page.split('\n').slice(at).join('\n'));
  assert.ok(m, `a code block follows "${lead}" in docs/ecmp.md`);
  return m[1]!;
}

function nextHops(router: Netns): string[] {
  const routes = JSON.parse(router.ip('-j', 'route', 'show', `${VIP}/32`)) as Array<{
    gateway?: string;
    nexthops?: Array<{ gateway: string }>;
  }>;
  const r = routes[0];
  if (!r) return [];
  return (r.nexthops ? r.nexthops.map((n) => n.gateway) : r.gateway ? [r.gateway] : []).sort();
}

test(
  'an FRR router with docs/ecmp.md configuration: multipath over BIRD directors, withdraw and return, BFD drops a dead director',
  { skip, timeout: 170_000 },
  async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'failoverd-frr-'));
    chmodSync(work, 0o711);
    const routerDir = join(work, 'router');
    const pids: string[] = [];
    const namespaces: Netns[] = [];
    try {
      const router = Netns.create('frr-r');
      namespaces.push(router);
      router.ip('link', 'set', 'lo', 'up');
      router.ip('link', 'add', 'br0', 'type', 'bridge');
      router.ip('addr', 'add', `${ROUTER}/24`, 'dev', 'br0');
      router.ip('link', 'set', 'br0', 'up');
      const directorConf = docBlock('BIRD 2 (`/etc/bird/bird.conf`), director');
      const directors = DIRECTORS.map((address, i) => {
        const ns = Netns.create(`frr-d${i + 1}`);
        namespaces.push(ns);
        vethPair({ ns: router, name: `p${i + 1}` }, { ns, name: 'eth0' });
        router.ip('link', 'set', `p${i + 1}`, 'master', 'br0');
        ns.ip('link', 'set', 'lo', 'up');
        ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
        // What failoverd's announcement is in the kernel (docs/ecmp.md: table 200, proto 200).
        ns.ip('route', 'add', 'blackhole', `${VIP}/32`, 'table', '200', 'proto', '200');
        const conf = join(work, `d${i + 1}.conf`);
        writeFileSync(conf, directorConf.replaceAll(DIRECTORS[0]!, address));
        const pid = join(work, `d${i + 1}.pid`);
        ns.exec('bird', ['-c', conf, '-s', join(work, `d${i + 1}.sock`), '-P', pid]);
        pids.push(pid);
        return { ns, address, pid };
      });

      // FRR as the frr user (its daemons refuse root), every path under routerDir so it
      // needs nothing from /etc/frr or /run/frr.
      const routerConf = join(work, 'frr.conf');
      writeFileSync(routerConf, docBlock('FRR 8.4 on the router'));
      run('mkdir', ['-p', routerDir]);
      run('chown', ['frr:frr', routerDir]);
      for (const daemon of FRR_DAEMONS) {
        router.exec(`/usr/lib/frr/${daemon}`, [
          '-d',
          ...['-u', 'frr', '-g', 'frr', '-P', '0', '-f', '/dev/null'],
          ...['--vty_socket', routerDir, '-z', join(routerDir, 'zserv.api'), '-i', join(routerDir, `${daemon}.pid`)],
          ...['--log', `file:${join(routerDir, `${daemon}.log`)}`],
          ...(daemon === 'bfdd' ? ['--bfdctl', join(routerDir, 'bfdd.sock')] : []),
        ]);
        pids.push(join(routerDir, `${daemon}.pid`));
      }
      // The configuration goes in once every daemon listens: vtysh sends each daemon its part.
      await waitFor(() => FRR_DAEMONS.every((d) => tryRun('test', ['-S', join(routerDir, `${d}.vty`)]).status === 0), {
        what: "FRR's vty sockets",
        timeoutMs: 20_000,
        stepMs: 100,
      });
      router.exec('vtysh', ['--vty_socket', routerDir, '-f', routerConf]);
      const vtysh = (command: string) => router.exec('vtysh', ['--vty_socket', routerDir, '-c', command]);

      // BIRD's first BGP attempt meets BFD not yet up and waits its error wait time (60 s).
      await waitFor(() => nextHops(router).length === 2, {
        what: 'both directors in the router’s multipath route',
        timeoutMs: 120_000,
        stepMs: 500,
      }).catch((err: Error) => {
        throw new Error(`${err.message}; bgp: ${vtysh('show bgp summary')}; route: ${router.ip('route', 'show', VIP)}`);
      });
      assert.deepEqual(nextHops(router), DIRECTORS);
      assert.match(router.ip('route', 'show', VIP), /proto bgp/);

      // failoverd withdraws (quorum lost, maintenance): its route leaves table 200.
      const [d1, d2] = directors as [(typeof directors)[0], (typeof directors)[0]];
      d2.ns.ip('route', 'del', 'blackhole', `${VIP}/32`, 'table', '200', 'proto', '200');
      await waitFor(() => nextHops(router).join() === d1.address, { what: 'd2 withdrawn at the router', timeoutMs: 30_000, stepMs: 100 });
      d2.ns.ip('route', 'add', 'blackhole', `${VIP}/32`, 'table', '200', 'proto', '200');
      await waitFor(() => nextHops(router).length === 2, { what: 'd2 announced again at the router', timeoutMs: 30_000, stepMs: 100 });

      // Power cut of d1: the link goes first, so no FIN or notification of BIRD's leaves it;
      // only BFD can tell the router (the BGP hold time is 90 s).
      const cut = Date.now();
      d1.ns.ip('link', 'set', 'eth0', 'down');
      run('kill', ['-9', readFileSync(d1.pid, 'utf8').trim()]);
      await waitFor(() => nextHops(router).join() === d2.address, {
        what: 'd1 gone from the router after the power cut',
        timeoutMs: 30_000,
        stepMs: 20,
      });
      t.diagnostic(`router without the dead director ${Date.now() - cut} ms after the cut (BFD 100 ms × 3 in docs/ecmp.md)`);
      assert.match(vtysh('show bfd peers brief'), new RegExp(`${d1.address.replaceAll('.', '\\.')}\\s+down`));
    } finally {
      for (const pid of pids) {
        const text = tryRun('cat', [pid]).stdout.trim();
        if (/^\d+$/.test(text)) tryRun('kill', [text]);
      }
      for (const ns of namespaces) ns.delete();
      rmSync(work, { recursive: true, force: true });
    }
  },
);
