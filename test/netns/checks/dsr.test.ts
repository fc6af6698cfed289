// The dsr check against a real server set up for LVS-DR in a namespace (the VIP on
// lo, arp_ignore=1, arp_announce=2, socat listening): up; down when the VIP leaves
// lo, when arp_ignore lets the server answer ARP for the VIP, and when nothing
// listens, while a plain tcp check to the server's own address stays up. tcpdump
// in the server's namespace is the independent witness of what the probe sent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckResult } from '../../../src/health/check.js';
import { sh } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';
import { CheckLab, type LineProcess } from './lab.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const VIP = '10.201.0.100';
const PORT = 8080;
let lab: CheckLab;
let runner: LineProcess;
let serverDev: string;
let serverMac: string;
let checkerMac: string;
let listener: ChildProcess | undefined;
let nextId = 1;

async function check(type: string, options: Record<string, unknown>, timeoutMs = 1000, address = lab.serverAddress): Promise<CheckResult> {
  const id = nextId++;
  runner.send(JSON.stringify({ id, type, options, target: { service: 'web', address, port: PORT }, timeoutMs }));
  const answer = JSON.parse(await runner.next((l) => l.startsWith(`{"id":${id},`), timeoutMs + 10_000)) as {
    result: CheckResult;
    error?: string;
  };
  if (answer.error) throw new Error(answer.error);
  return answer.result;
}

const dsr = (extra: Record<string, unknown> = {}, timeoutMs = 1000): Promise<CheckResult> =>
  check('dsr', { vip: VIP, ...extra }, timeoutMs);
const plain = (): Promise<CheckResult> => check('tcp', {});

function link(ns: string): { name: string; mac: string } {
  const links = JSON.parse(sh(['ip', '-n', ns, '-j', 'link', 'show'])) as Array<{ ifname: string; address: string; link_type: string }>;
  const veth = links.find((l) => l.link_type === 'ether');
  assert.ok(veth, `no Ethernet link in ${ns}`);
  return { name: veth.ifname.split('@')[0]!, mac: veth.address };
}

/** The namespace's TCP OutRsts counter (/proc/net/snmp): RSTs its kernel sent. */
function outRsts(ns: string): number {
  const lines = sh(['ip', 'netns', 'exec', ns, 'cat', '/proc/net/snmp'])
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/));
  return Number(values![names!.indexOf('OutRsts')]);
}

async function until(what: string, cond: () => boolean, limitMs = 5000): Promise<void> {
  await waitFor(cond, { what, timeoutMs: limitMs, stepMs: 50 });
}

function sysctl(...settings: string[]): void {
  sh(['ip', 'netns', 'exec', lab.serverNs, 'sysctl', '-qw', ...settings]);
}

function arpIgnore(value: number): void {
  sysctl(`net.ipv4.conf.all.arp_ignore=${value}`, `net.ipv4.conf.${serverDev}.arp_ignore=${value}`);
}

async function startListener(): Promise<void> {
  listener = spawn('ip', ['netns', 'exec', lab.serverNs, 'socat', `TCP-LISTEN:${PORT},fork,reuseaddr`, 'SYSTEM:echo hello'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    if ((await plain()).ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('socat never listened');
}

async function stopListener(): Promise<void> {
  const child = listener;
  listener = undefined;
  if (!child?.pid || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM'); // `ip netns exec` execs socat: this pid is socat
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
}

/** tcpdump in the server's namespace for the length of `during`: its -e -vv -nn lines. */
async function capture(filter: string, during: () => Promise<void>): Promise<string> {
  const dump = spawn('ip', ['netns', 'exec', lab.serverNs, 'tcpdump', '-i', serverDev, '-e', '-vv', '-nn', '-l', '-U', filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '',
    err = '';
  dump.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  dump.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  for (let i = 0; i < 100 && !err.includes('listening on'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(err, /listening on/, 'tcpdump did not start');
  try {
    await during();
    await new Promise((r) => setTimeout(r, 500)); // its last lines
  } finally {
    const exited = new Promise((r) => dump.once('exit', r));
    process.kill(dump.pid!, 'SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  return out;
}

before(async () => {
  for (const program of ['socat', 'tcpdump']) assert.ok(sh(['which', program], { check: false }).trim(), `${program} must be installed`);
  lab = new CheckLab('d');
  ({ name: serverDev, mac: serverMac } = link(lab.serverNs));
  checkerMac = link(lab.checkerNs).mac;
  // The real server of an LVS-DR service: the VIP on lo, ARP for it left to the director.
  sh(['ip', '-n', lab.serverNs, 'addr', 'add', `${VIP}/32`, 'dev', 'lo']);
  arpIgnore(1);
  sysctl('net.ipv4.conf.all.arp_announce=2', `net.ipv4.conf.${serverDev}.arp_announce=2`);
  runner = lab.start(lab.checkerNs, [join(here, 'check-runner.js')]);
  await startListener();
});

after(async () => {
  await stopListener();
  lab?.close();
});

test("dsr: up on the SYN-ACK from VIP:port; tcpdump sees a SYN to the VIP at the server's MAC, checksums correct, then our RST", async () => {
  let result: CheckResult | undefined;
  const rstsBefore = outRsts(lab.checkerNs);
  const seen = await capture(`tcp port ${PORT} and host ${VIP}`, async () => {
    result = await dsr();
  });
  // The checker's kernel answered the SYN-ACK (no socket of its own) with an RST...
  await until("the checker's kernel sends an RST for the SYN-ACK", () => outRsts(lab.checkerNs) >= rstsBefore + 1);
  assert.deepEqual([result!.ok, result!.reason], [true, `SYN-ACK from ${VIP}:${PORT} at ${lab.serverAddress}'s MAC ${serverMac}`]);
  // -vv prints an IP header line, then the TCP line: join them per packet.
  const packets = seen.replace(/\n\s+/g, ' ').split('\n').filter(Boolean);
  const syn = packets.filter((l) => / Flags \[S\],/.test(l));
  assert.equal(syn.length, 1, seen);
  assert.ok(syn[0]!.includes(`${checkerMac} > ${serverMac}`), `SYN not sent to the server's MAC: ${syn[0]}`);
  assert.match(
    syn[0]!,
    new RegExp(
      `${lab.checkerAddress.replace(/\./g, '\\.')}\\.\\d+ > ${VIP.replace(/\./g, '\\.')}\\.${PORT}: Flags \\[S\\], cksum 0x[0-9a-f]+ \\(correct\\)`,
    ),
  );
  assert.doesNotMatch(syn[0]!, /bad cksum|incorrect/);
  assert.equal(packets.filter((l) => / Flags \[S\.\],/.test(l) && l.includes(`${VIP}.${PORT} > ${lab.checkerAddress}.`)).length, 1, seen);
  // ...but only ours reaches the server: the kernel's waits on an ARP for the VIP that nobody answers.
  const rst = packets.filter((l) => / Flags \[R\],/.test(l));
  assert.equal(rst.length, 1, seen);
  assert.match(rst[0]!, /cksum 0x[0-9a-f]+ \(correct\)/);
  assert.equal((await plain()).ok, true);
});

test("dsr: the VIP removed from the server's lo is down, while a plain tcp check to the server's address is up", async () => {
  sh(['ip', '-n', lab.serverNs, 'addr', 'del', `${VIP}/32`, 'dev', 'lo']);
  try {
    const r = await dsr({}, 600);
    assert.deepEqual(
      [r.ok, r.reason],
      [false, `no answer from ${VIP}:${PORT} at ${lab.serverAddress}'s MAC ${serverMac} (is the VIP on its lo?): timeout after 600ms`],
    );
    assert.deepEqual((await plain()).ok, true);
  } finally {
    sh(['ip', '-n', lab.serverNs, 'addr', 'add', `${VIP}/32`, 'dev', 'lo']);
  }
  assert.equal((await dsr()).ok, true);
});

test('dsr: arp_ignore=0 on the server (it answers ARP for the VIP) is down, while the plain check is up; arp_check: false skips that test', async () => {
  arpIgnore(0);
  try {
    const r = await dsr();
    assert.deepEqual(
      [r.ok, r.reason],
      [
        false,
        `real server ${lab.serverAddress} (${serverMac}) answers ARP for the VIP ${VIP}: it would take the VIP from the director (arp_ignore must be 1)`,
      ],
    );
    assert.equal((await plain()).ok, true);
    assert.equal((await dsr({ arp_check: false })).ok, true);
  } finally {
    arpIgnore(1);
  }
  assert.equal((await dsr()).ok, true);
});

test('dsr: nothing listening on the port is down (RST), and so is a port with no listener (connect_port)', async () => {
  const other = await dsr({ connect_port: PORT + 1 });
  assert.equal(other.ok, false);
  assert.equal(other.reason, `connection refused (RST) by ${VIP}:${PORT + 1} at ${lab.serverAddress}'s MAC ${serverMac}`);
  await stopListener();
  try {
    const r = await dsr();
    assert.deepEqual([r.ok, r.reason], [false, `connection refused (RST) by ${VIP}:${PORT} at ${lab.serverAddress}'s MAC ${serverMac}`]);
    assert.equal((await plain()).ok, false);
  } finally {
    await startListener();
  }
  assert.equal((await dsr()).ok, true);
});

test('dsr: the director holding the VIP itself (the MASTER) changes nothing: its kernel drops the SYN-ACK from a local address', async () => {
  sh(['ip', '-n', lab.checkerNs, 'addr', 'add', `${VIP}/32`, 'dev', 'lo']);
  try {
    let result: CheckResult | undefined;
    const rstsBefore = outRsts(lab.checkerNs);
    const seen = await capture(`tcp port ${PORT} and host ${VIP}`, async () => {
      result = await dsr();
    });
    assert.equal(result!.ok, true, result!.reason);
    assert.equal(outRsts(lab.checkerNs), rstsBefore, 'a SYN-ACK from a local address is a martian: no RST for it');
    const packets = seen.replace(/\n\s+/g, ' ').split('\n').filter(Boolean);
    assert.equal(packets.filter((l) => / Flags \[R\],/.test(l)).length, 1, `only our RST reaches the server: ${seen}`);
  } finally {
    sh(['ip', '-n', lab.checkerNs, 'addr', 'del', `${VIP}/32`, 'dev', 'lo']);
  }
});

test("dsr: a server with no ARP answer, or off the director's links, is down with the reason", async () => {
  const absent = await check('dsr', { vip: VIP }, 600, '10.201.0.77');
  assert.deepEqual(
    [absent.ok, absent.reason],
    [false, 'no ARP reply from 10.201.0.77 on ' + link(lab.checkerNs).name + ': timeout after 600ms'],
  );
  const wrongInterface = await check('dsr', { vip: VIP, interface: 'lo' }, 600);
  assert.equal(wrongInterface.ok, false);
  assert.match(wrongInterface.reason, /is not on a subnet of lo/);
  const v6 = await check('dsr', { vip: VIP }, 600, lab.serverAddress6);
  assert.deepEqual([v6.ok, v6.reason], [false, `the dsr check probes IPv4 real servers only, not ${lab.serverAddress6}`]);
});

test('dsr: many probes at once each get their own answer (source port and ISN)', async () => {
  const runs = await Promise.all(Array.from({ length: 20 }, () => dsr({}, 3000)));
  assert.deepEqual(
    runs.filter((r) => !r.ok).map((r) => r.reason),
    [],
  );
});
