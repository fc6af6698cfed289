// `failoverd lab --topology ecmp`: three directors announce one VIP over BGP (BIRD,
// BFD) to a router that spreads flows by ECMP; a fourth joins later. A client holds
// long-lived connections and opens new ones steadily. The scenario plays a drain, an
// added director, a failing real server, a routing-daemon restart and a power cut
// with mh + sloppy_tcp, then the same power cut and drain against the baseline
// today's ECMP users get (wlc without sloppy), and judges everything from the
// client's counts; the router's table (`ip route`) is the witness for the routes.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../api/client.js';
import { formatDuration } from '../config/duration.js';
import {
  allAnsweredSince,
  describeOutcome,
  failureWindow,
  flowOutcome,
  parseIpvsConnections,
  settledBefore,
  type FlowOutcome,
} from './ecmp-outcome.js';
import {
  createEcmpTopology,
  PORT,
  realServerAddress,
  VIP,
  type BfdTimers,
  CLIENT,
  type Director,
  type EcmpTopology,
  type RouteWatch,
  type Traffic,
  type TrafficStats,
} from './ecmp-topology.js';
import { monoMs } from './mono.js';
import { tryExec } from './namespace.js';
import { formatMs, summaryLines, timelineLine, type Expectation, type Measure } from './report.js';

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));
export const MH = '    scheduler: mh\n    scheduler_flags: [port]';
export const BASELINE = '    scheduler: wlc';
export const BASELINE_ROUTING = '  sloppy: false\n  allow_flow_resets: true\n';
/** Time the router needs past BFD's detection to drop a next hop (BIRD → kernel), on a loaded UML kernel. */
export const CONVERGENCE_ALLOWANCE_MS = 3000;
/** The services' health check: interval 1 s, fall 2, timeout 500 ms (ecmp-topology.ts). */
const CHECK_DETECTION_MS = 2 * 1000 + 500;

export interface EcmpLabOptions {
  print?: (line: string) => void;
  longConnections?: number;
  newPerSecond?: number;
  bfd?: BfdTimers;
}

export interface EcmpLabResult {
  ok: boolean;
  expectations: Expectation[];
  measures: Measure[];
  error?: string;
}

/** rs1's weight in a director's IPVS table (`ipvsadm -Ln`), undefined when absent. */
function rs1Weight(d: Director): number | undefined {
  const line = d.ns
    .tryExec('ipvsadm', ['-Ln'])
    .stdout.split('\n')
    .find((l) => l.includes(`${realServerAddress(0)}:`));
  const weight = line?.trim().split(/\s+/)[3];
  return weight === undefined ? undefined : Number(weight);
}

/** A line of the agent's JSON log: its time (epoch ms) and message. */
function parseLogLine(line: string): { time: number; msg: string } {
  try {
    const o = JSON.parse(line) as { time?: number; msg?: string };
    return { time: o.time ?? 0, msg: o.msg ?? '' };
  } catch {
    return { time: 0, msg: line };
  }
}

/** A director's announcement as its agent reports it (GET /status): state and since when. */
async function announcementOf(d: Director): Promise<string> {
  const api = new ApiClient({ kind: 'unix', path: d.apiSocket });
  try {
    const r = (await api.status()).routing?.[0];
    return r ? `${r.announced ? 'announced' : 'withdrawn'} since ${r.since}` : 'no announcement in its status';
  } catch (err) {
    return `status unavailable: ${(err as Error).message}`;
  } finally {
    await api.close();
  }
}

/** The kernel's log lines (the UML kernel's, shared by every namespace). */
const kernelLog = (): string[] => tryExec('dmesg', []).stdout.split('\n');

const epochMs = (): number => Math.round(performance.timeOrigin + performance.now());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class EcmpScenario {
  readonly expectations: Expectation[] = [];
  readonly measures: Measure[] = [];
  readonly t0 = monoMs();
  readonly work = mkdtempSync(join(tmpdir(), 'failoverd-lab-ecmp-'));
  topo!: EcmpTopology;
  traffic: Traffic | undefined;
  routes: RouteWatch | undefined;
  private readonly print: (line: string) => void;
  readonly longCount: number;
  readonly newPerSec: number;
  readonly bfd: BfdTimers | undefined;

  constructor(options: EcmpLabOptions) {
    this.print = options.print ?? ((line) => process.stdout.write(`${line}\n`));
    this.longCount = options.longConnections ?? 300;
    this.newPerSec = options.newPerSecond ?? 50;
    this.bfd = options.bfd;
  }

  say(who: string, text: string): void {
    this.print(timelineLine(monoMs() - this.t0, who, text));
  }

  heading(text: string): void {
    this.print('');
    this.print(`── ${text}`);
  }

  expect(part: string, what: string, ok: boolean, observed: string): void {
    this.expectations.push({ part, what, ok, observed });
    this.say('check', `${ok ? 'ok  ' : 'FAIL'} ${what} — ${observed}`);
  }

  async waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, stepMs = 100): Promise<number> {
    const deadline = monoMs() + timeoutMs;
    for (let polls = 0; polls < 2 * Math.ceil(timeoutMs / stepMs) + 2; polls++) {
      if (await condition()) return monoMs();
      if (monoMs() > deadline) break;
      await sleep(stepMs);
    }
    throw new Error(`timed out after ${formatDuration(timeoutMs)} waiting for ${what}`);
  }

  get d(): Director[] {
    return this.topo.directors;
  }

  /** The directors whose agent is running (a power cut leaves its director's table as it was). */
  live(): Director[] {
    return this.d.filter((d) => d.agent && d.agent.proc.exitCode === null && d.agent.proc.signalCode === null);
  }

  hopsAre(ds: Director[], what: string, timeoutMs = 60_000): Promise<number> {
    const want = JSON.stringify(ds.map((d) => d.address).sort());
    return this.waitFor(() => JSON.stringify(this.topo.nextHops()) === want, timeoutMs, `${what} (router next hops ${want})`, 50);
  }

  hopNames(): string {
    const hops = this.topo.nextHops();
    return this.d
      .filter((d) => hops.includes(d.address))
      .map((d) => d.name)
      .join(', ');
  }

  /** Per director: IPVS connections it holds for the VIP. */
  spread(): string {
    return this.d
      .filter((d) => d.agent)
      .map((d) => {
        const r = d.ns.tryExec('ipvsadm', ['-Lnc']);
        const n = r.stdout.split('\n').filter((l) => l.includes(`${VIP}:${PORT}`) && l.includes('ESTABLISHED')).length;
        return `${d.name} ${r.status === 0 ? n : '—'}`;
      })
      .join(', ');
  }

  /**
   * Waits until every open long connection was answered again since `since`, and then
   * until every new connection started by then has its verdict (answered, refused or
   * timed out: the client gives up after 3 s), so that the counts are complete; bounded.
   * `settleAfter` (epoch ms) moves that second point later. Returns the last counts.
   */
  async answeredAgain(since: TrafficStats, timeoutMs = 60_000, settleAfter = 0): Promise<TrafficStats> {
    let now = since;
    await this.waitFor(
      async () => {
        now = await this.traffic!.stats();
        return allAnsweredSince(since, now);
      },
      timeoutMs,
      'every long connection answered again',
      500,
    ).catch(() => undefined);
    const until = Math.max(now.now, settleAfter);
    await this.waitFor(
      async () => {
        now = await this.traffic!.stats();
        return now.now >= until && settledBefore(now, until);
      },
      30_000,
      'every new connection started so far answered or failed',
      250,
    ).catch(() => undefined);
    return now;
  }

  /** The route changes at the router since `from` (an index into the watch), in words. */
  routeChanges(from: number): string {
    const changes = this.routes?.changes.slice(from) ?? [];
    const deleted = changes.filter((c) => c.line.startsWith('Deleted')).length;
    return `${changes.length}${deleted ? ` (${deleted} deletions)` : ''}`;
  }

  startDirector(d: Director, service: string, routing = ''): void {
    this.topo.writeConfig(d, service, routing);
    this.topo.startBird(d);
    const agent = this.topo.startAgent(d);
    this.say(d.name, `BIRD and failoverd run --config ${d.configPath} (pid ${agent.proc.pid})`);
  }

  sessionsUp(ds: Director[]): Promise<number> {
    return this.waitFor(
      () => {
        const p = this.topo.router.tryExec('birdc', ['-s', this.topo.routerSock, 'show', 'protocols']).stdout;
        return ds.every((d) => new RegExp(`${d.name}\\s+BGP\\s+\\S+\\s+up\\s+.*Established`).test(p));
      },
      120_000,
      `BGP sessions of ${ds.map((d) => d.name).join(', ')} established at the router`,
      500,
    );
  }

  async startTraffic(): Promise<TrafficStats> {
    this.traffic?.stop();
    this.traffic = await this.topo.startTraffic(this.longCount, this.newPerSec);
    this.say(
      'client',
      `${this.longCount} long-lived connections (a request every 200 ms on each), ${this.newPerSec} new connections a second`,
    );
    let ready = await this.traffic.stats();
    const answered = (): number => ready.long.filter((c) => c.a > 0).length;
    await this.waitFor(
      async () => {
        ready = await this.traffic!.stats();
        return answered() === this.longCount;
      },
      90_000,
      'every long connection answered',
      500,
    ).catch(() => undefined);
    if (answered() < this.longCount) throw new Error(`only ${answered()} of ${this.longCount} long connections were answered`);
    this.say('client', `every long connection answered; IPVS connections per director: ${this.spread()}`);
    return ready;
  }

  /** The client's outcome of a part that started at `at` (epoch ms), with each failed new connection explained. */
  record(part: string, o: FlowOutcome, routesFrom: number, at: number): void {
    this.say('client', describeOutcome(o));
    this.explainFailures(o, at);
    this.measures.push({ part, name: 'route changes at the router', text: this.routeChanges(routesFrom) });
    this.measures.push({
      part,
      name: 'long connections survived',
      text: `${o.survived}/${o.of} (reset ${o.reset}, other ${o.endedOtherwise}, stalled ${o.stalled})`,
    });
    this.measures.push({
      part,
      name: 'new connections',
      text: `${o.newOk} ok, ${o.newFail} failed (${o.newRefused} refused/reset), ${o.newSlow} slow`,
    });
  }

  // ---- the parts -------------------------------------------------------------

  async setup(): Promise<void> {
    this.heading('setup: router (BIRD: BGP + BFD, multipath, L4 hash), directors d1–d3 (BIRD + failoverd, mh + sloppy_tcp), rs1–rs3');
    this.topo = await createEcmpTopology({
      work: this.work,
      cli: CLI,
      directors: 4,
      realServers: 3,
      ...(this.bfd ? { bfd: this.bfd } : {}),
    });
    const bfd = this.topo.bfd;
    this.say('lab', `VIP ${VIP}:${PORT}; BFD ${bfd.intervalMs} ms × ${bfd.multiplier}; real servers set up by failoverd realserver setup`);
    this.routes = this.topo.watchRoutes();
    for (const d of this.d.slice(0, 3)) this.startDirector(d, MH);
    // An agent in UML needs 10–30 s to program its first table on a loaded machine: a wait, not a measure.
    await this.hopsAre(this.d.slice(0, 3), 'd1, d2 and d3 announced', 240_000);
    await this.sessionsUp(this.d.slice(0, 3));
    this.say('router', `next hops for ${VIP}: ${this.hopNames()}`);
  }

  async drain(part: string): Promise<void> {
    const d = this.d[1]!;
    const routesFrom = this.routes?.changes.length ?? 0;
    const before = await this.traffic!.stats();
    const announcing = this.d.filter((x) => this.topo.nextHops().includes(x.address));
    writeFileSync(d.maintenanceFile, '');
    const at = epochMs();
    this.say(d.name, `maintenance file ${d.maintenanceFile} created`);
    await this.hopsAre(
      announcing.filter((x) => x !== d),
      `${d.name} withdrawn`,
    );
    this.say('router', `next hops: ${this.hopNames()}`);
    const during = await this.answeredAgain(before);
    unlinkSync(d.maintenanceFile);
    this.say(d.name, 'maintenance file removed');
    await this.hopsAre(announcing, `${d.name} announced again`);
    this.say('router', `next hops: ${this.hopNames()}`);
    const after = await this.answeredAgain(during);
    const o = flowOutcome(before, after);
    this.record(part, o, routesFrom, at);
    if (part === 'baseline') return this.baselineRecord('drain', o);
    this.expect(part, '0 long-lived connections reset or lost', o.survived === o.of, `${o.survived}/${o.of} survived, ${o.reset} reset`);
    this.expect(part, '0 new connections refused or failed', o.newFail === 0, `${o.newFail} of ${o.newOk + o.newFail} failed`);
  }

  async add(): Promise<void> {
    const d = this.d[3]!;
    const routesFrom = this.routes?.changes.length ?? 0;
    const before = await this.traffic!.stats();
    const others = this.d.filter((x) => x.agent);
    const at = epochMs();
    this.startDirector(d, MH);
    await this.hopsAre([...others, d], `${d.name} announced`, 240_000);
    this.say('router', `next hops: ${this.hopNames()}`);
    const after = await this.answeredAgain(before);
    const o = flowOutcome(before, after);
    this.record('add', o, routesFrom, at);
    this.say('lab', `IPVS connections per director: ${this.spread()}`);
    this.expect('add', '0 long-lived connections reset or lost', o.survived === o.of, `${o.survived}/${o.of} survived, ${o.reset} reset`);
    this.expect('add', '0 new connections refused or failed', o.newFail === 0, `${o.newFail} of ${o.newOk + o.newFail} failed`);
  }

  /**
   * rs1's echo server dies and comes back. `expireNodestConn` is the directors'
   * net.ipv4.vs.expire_nodest_conn for this play: 0 is the kernel's default (played
   * first, reported beside), 1 is what the lab's directors run with (docs/ecmp.md).
   */
  async realServer(expireNodestConn: 0 | 1): Promise<void> {
    const part = expireNodestConn === 1 ? 'real server' : 'real server, expire_nodest_conn=0';
    const routesFrom = this.routes?.changes.length ?? 0;
    const before = await this.traffic!.stats();
    const heldByRs1 = before.long.filter((c) => !c.ended && c.rs === 'rs1').length;
    const agents = this.live();
    for (const d of agents) d.ns.exec('sysctl', ['-qw', `net.ipv4.vs.expire_nodest_conn=${expireNodestConn}`]);
    this.say('lab', `net.ipv4.vs.expire_nodest_conn=${expireNodestConn} on every director`);
    const logsFrom = new Map(agents.map((d) => [d, d.agent!.logs.length]));
    const kernelFrom = kernelLog().length;
    const killed = epochMs();
    this.topo.stopRealServer(0);
    this.say('rs1', `echo server killed (kill -9); it held ${heldByRs1} long connections`);
    await this.waitFor(
      // Removed, or at weight 0 while the reconciler drains it (its IPVS connections outlive the server).
      () => agents.every((d) => (rs1Weight(d) ?? 0) === 0),
      30_000,
      'rs1 out of every director\u2019s rotation',
      100,
    );
    const out = epochMs();
    this.say(
      'lab',
      `rs1 is out of every director\u2019s rotation, seen ${formatMs(out - killed)} after the kill (weights: ${agents
        .map((d) => `${d.name} ${rs1Weight(d) ?? 'removed'}`)
        .join(', ')})`,
    );
    // Each agent's own log says when its check failed and when it deleted rs1 (its clock, the same host's).
    for (const d of agents) {
      const lines = d.agent!.logs.slice(logsFrom.get(d)).map(parseLogLine);
      const at = (re: RegExp): string => {
        const l = lines.find((x) => re.test(x.msg));
        return l ? formatMs(l.time - killed) : 'not logged';
      };
      const mentions = lines.filter((x) => x.msg.includes(realServerAddress(0)));
      this.say(
        d.name,
        `rs1 down at +${at(/10\.9\.1\.21\b.* is down/)}, deleted from IPVS at +${at(/IPVS .*10\.9\.1\.21/)} (${lines.length} log lines since the kill, ${mentions.length} about rs1${mentions[0] ? `, the first: ${mentions[0].msg}` : ''})`,
      );
    }
    const detection = CHECK_DETECTION_MS + CONVERGENCE_ALLOWANCE_MS;
    this.measures.push({
      part,
      name: 'rs1 out of every director\u2019s table (lab polling ipvsadm)',
      ms: out - killed,
      goal: `\u2264 ${formatMs(detection)} (fall 2 \u00d7 1 s + 500 ms + ${formatMs(CONVERGENCE_ALLOWANCE_MS)})`,
      goalMet: out - killed <= detection,
    });
    // New connections are counted for 20 s past the last deletion: a reused port's stale entry must have time to show.
    const after = await this.answeredAgain(before, 20_000, out + 20_000);
    const o = flowOutcome(before, after);
    this.record(part, o, routesFrom, killed);
    const ipvsKernel = kernelLog()
      .slice(kernelFrom)
      .filter((l) => l.includes('IPVS'));
    if (ipvsKernel.length > 0) this.say('kernel', `${ipvsKernel.length} IPVS messages, the first: ${ipvsKernel[0]!.trim()}`);
    const others = after.long.filter((_, i) => !before.long[i]!.ended && before.long[i]!.rs !== 'rs1');
    const othersLost = others.filter((c) => c.ended).length;
    const w = failureWindow(o.failures, killed);
    // Until a director deletes rs1 it sends rs1 its share (refused): how long that takes is the
    // check's detection, measured above. Past the last deletion, nothing may fail.
    const late = o.failures.filter((f) => f.t > out).length;
    this.expect(
      part,
      'connections held by rs2/rs3 unaffected',
      othersLost === 0,
      `${othersLost} of ${others.length} lost; rs1's ${heldByRs1} ended with it`,
    );
    const failed = w
      ? `${o.failures.length} of ${o.newOk + o.newFail} failed, ${late} after rs1 left every table (${formatMs(out - killed)}); started ${formatMs(w.first)} to ${formatMs(w.last)} after the kill`
      : `none of ${o.newOk} failed`;
    // The kernel's default is played to show the cause; its late failures are reported, not expected away.
    if (expireNodestConn === 0) this.measures.push({ part, name: 'new connections failed', text: failed });
    else this.expect(part, 'no new connection fails once rs1 has left every director\u2019s table', late === 0, failed);
    for (const d of agents) d.ns.exec('sysctl', ['-qw', 'net.ipv4.vs.expire_nodest_conn=1']);
    await this.topo.startRealServer(0);
    await this.waitFor(() => agents.every((d) => (rs1Weight(d) ?? 0) > 0), 30_000, 'rs1 back in every table', 200);
    this.say('rs1', 'echo server restarted; back in every director\u2019s table');
  }

  /** Each failed new connection (when, relative to `at`): which director's IPVS holds its entry, in what state, to which real server. */
  explainFailures(o: FlowOutcome, at: number): void {
    if (o.failures.length === 0) return;
    const entries = new Map<number, string[]>();
    for (const d of this.d.filter((x) => x.agent)) {
      const text = d.ns.tryExec('ipvsadm', ['-Lnc']).stdout;
      for (const e of parseIpvsConnections(text))
        if (e.client === CLIENT && e.virtual === `${VIP}:${PORT}`)
          entries.set(e.clientPort, [...(entries.get(e.clientPort) ?? []), `${d.name} ${e.state} → ${e.destination}`]);
    }
    const shown = 40;
    if (o.failures.length > shown) this.say('client', `the first ${shown} of ${o.failures.length} failed new connections:`);
    for (const f of o.failures.slice(0, shown))
      this.say(
        'client',
        `failed at +${formatMs(f.t - at)}: ${f.code}, port ${f.port || '?'}: ${entries.get(f.port)?.join('; ') ?? 'in no director\u2019s table'}`,
      );
  }

  async daemonRestart(): Promise<void> {
    const d = this.d[2]!;
    const routesFrom = this.routes?.changes.length ?? 0;
    const before = await this.traffic!.stats();
    const announcedBefore = await announcementOf(d);
    const at = epochMs();
    d.ns.exec('birdc', ['-s', d.birdSock, 'graceful', 'restart']);
    this.say(d.name, 'birdc graceful restart (BIRD exits, leaving its routes); bird -R started again');
    this.topo.startBird(d, true);
    await sleep(3000);
    await this.hopsAre(
      this.d.filter((x) => x.agent),
      `${d.name} announced by the restarted BIRD`,
    );
    await this.sessionsUp(this.d.filter((x) => x.agent));
    const after = await this.answeredAgain(before);
    const o = flowOutcome(before, after);
    this.record('daemon restart', o, routesFrom, at);
    // The agent's own status: an announcement's `since` moves with every withdraw or announce.
    const announcedAfter = await announcementOf(d);
    this.expect(
      'daemon restart',
      'failoverd neither withdrew nor announced',
      announcedBefore.startsWith('announced') && announcedAfter === announcedBefore,
      `before: ${announcedBefore}; after: ${announcedAfter}`,
    );
    this.expect(
      'daemon restart',
      '0 long-lived connections reset or lost',
      o.survived === o.of,
      `${o.survived}/${o.of} survived, ${o.reset} reset`,
    );
    this.expect('daemon restart', '0 new connections refused or failed', o.newFail === 0, `${o.newFail} of ${o.newOk + o.newFail} failed`);
  }

  /** The power cut: agent and BIRD killed and the link down in one step. */
  async crash(part: string): Promise<FlowOutcome> {
    const d = this.d[0]!;
    const routesFrom = this.routes?.changes.length ?? 0;
    const before = await this.traffic!.stats();
    this.say('lab', `IPVS connections per director: ${this.spread()}`);
    const survivors = this.d.filter((x) => x !== d && x.agent);
    this.traffic!.mark();
    d.agent!.proc.kill('SIGKILL');
    d.ns.exec('sh', ['-c', `kill -9 $(cat ${d.birdPid}); ip link set eth0 down`]);
    const cut = epochMs();
    const cutMono = monoMs();
    this.say(d.name, 'power cut: failoverd and BIRD killed (kill -9), link down');
    await d.agent!.exited;
    const gone = await this.hopsAre(survivors, `${d.name} withdrawn by the router`);
    this.say('router', `next hops: ${this.hopNames()} (${formatMs(gone - cutMono)} after the cut, polled every 50 ms)`);
    // Counted once every connection started before the router converged has its verdict
    // (a SYN sent to the dead director times out 3 s later).
    const after = await this.answeredAgain(before, 60_000, cut + (gone - cutMono));
    this.say('client', `counted ${formatMs(after.now - cut)} after the cut, every new connection started by then answered or failed`);
    const o = flowOutcome(before, after);
    this.record(part, o, routesFrom, cut);
    this.measures.push({ part, name: 'router without the dead director', ms: gone - cutMono });
    this.measures.push({ part, name: 'longest silence of a surviving long connection (client)', ms: o.longestGap });
    const bfd = this.topo.bfd;
    const bound = bfd.intervalMs * bfd.multiplier + CONVERGENCE_ALLOWANCE_MS;
    const w = failureWindow(o.failures, cut);
    this.measures.push({
      part,
      name: 'new connections failed from/to (after the cut)',
      text: w ? `${formatMs(w.first)} … ${formatMs(w.last)}` : 'none failed',
    });
    if (part === 'baseline') {
      this.baselineRecord('crash', o);
      return o;
    }
    this.expect(
      part,
      '≥ 99% of long-lived connections survive',
      o.survived >= Math.ceil(0.99 * o.of),
      `${o.survived}/${o.of} (${o.reset} reset)`,
    );
    this.expect(
      part,
      `new connections fail only inside the detection window (BFD ${bfd.intervalMs} ms × ${bfd.multiplier} + ${formatMs(CONVERGENCE_ALLOWANCE_MS)} convergence = ${formatMs(bound)})`,
      // An attempt started up to 3 s (the client's timeout) before the cut can fail too.
      !w || (w.first >= -3000 && w.last <= bound),
      w
        ? `${o.failures.length} of ${o.newOk + o.newFail} failed, started ${formatMs(w.first)} to ${formatMs(w.last)} after the cut`
        : `none of ${o.newOk} failed`,
    );
    return o;
  }

  readonly baseline: Partial<Record<'crash' | 'drain', FlowOutcome>> = {};
  baselineRecord(what: 'crash' | 'drain', o: FlowOutcome): void {
    this.baseline[what] = o;
  }

  /** The same topology and traffic with wlc and no sloppy: agents restarted (they adopt their routes), d1 booted again. */
  async toBaseline(): Promise<void> {
    this.traffic?.stop();
    const d1 = this.d[0]!;
    for (const d of this.d.filter((x) => x !== d1 && x.agent)) {
      d.agent!.proc.kill('SIGKILL');
      await d.agent!.exited;
      d.ns.exec('sysctl', ['-qw', 'net.ipv4.vs.sloppy_tcp=0', 'net.ipv4.vs.sloppy_sctp=0']);
      this.topo.writeConfig(d, BASELINE, BASELINE_ROUTING);
      const agent = this.topo.startAgent(d);
      this.say(d.name, `failoverd restarted with scheduler wlc, sloppy: false (pid ${agent.proc.pid}); sloppy_tcp set to 0`);
    }
    d1.ns.ip('link', 'set', 'eth0', 'up');
    d1.ns.exec('sysctl', ['-qw', 'net.ipv4.vs.sloppy_tcp=0', 'net.ipv4.vs.sloppy_sctp=0']);
    this.startDirector(d1, BASELINE, BASELINE_ROUTING);
    await this.hopsAre(this.d, 'every director announced (baseline)', 240_000);
    await this.sessionsUp(this.d);
    await this.waitFor(
      () => this.d.every((d) => d.ns.tryExec('ipvsadm', ['-Ln']).stdout.includes(' wlc') && d.ns.sysctl('net.ipv4.vs.sloppy_tcp') === '0'),
      60_000,
      'wlc and sloppy_tcp 0 on every director',
      500,
    );
  }
}

export const ECMP_PARTS = ['drain', 'add', 'realserver', 'daemon', 'crash', 'baseline'] as const;

export async function runEcmpLab(options: EcmpLabOptions = {}): Promise<EcmpLabResult> {
  const s = new EcmpScenario(options);
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  let error: string | undefined;
  let crash: FlowOutcome | undefined;
  print(`failoverd lab --topology ecmp: client → router (ECMP) → d1…d4 (failoverd + BIRD) → rs1…rs3, DR, VIP ${VIP}:${PORT}`);
  try {
    await s.setup();
    await s.startTraffic();
    s.heading('drain: d2 is drained (maintenance file), then returns');
    await s.drain('drain');
    s.heading('add: a fourth director, d4, starts and announces');
    await s.add();
    s.heading('real server: rs1 fails (kill -9) and returns');
    await s.realServer(1);
    // rs1 took its long connections with it: a fresh set, all opened with every real server up.
    await s.startTraffic();
    s.heading('daemon restart: BIRD on d3 restarts (graceful restart), failoverd keeps its route');
    await s.daemonRestart();
    s.heading('crash: d1 loses power');
    crash = await s.crash('crash');
    // Played after the parts it could disturb: while rs1 is out, new connections leave IPVS
    // entries to rs2/rs3 for ports that hash to rs1, and a later flow reusing such a port
    // and moved to that director follows the entry (docs/ecmp.md).
    s.heading('real server, with the kernel\u2019s default expire_nodest_conn=0: rs1 fails (kill -9) and returns');
    await s.startTraffic();
    await s.realServer(0);
    s.heading('baseline: the same topology and traffic with wlc and no sloppy (MetalLB BGP mode with kube-proxy)');
    await s.toBaseline();
    await s.startTraffic();
    await s.drain('baseline');
    await s.crash('baseline');
    const b = s.baseline;
    if (b.crash && b.drain)
      s.expect(
        'baseline',
        'side by side (crash): mh + sloppy loses fewer long connections than the baseline',
        !!crash && crash.of - crash.survived < b.crash.of - b.crash.survived,
        `mh + sloppy: ${crash ? crash.of - crash.survived : '?'} lost (${crash?.reset ?? '?'} reset); baseline: ${b.crash.of - b.crash.survived} lost (${b.crash.reset} reset, ${b.crash.stalled} stalled); baseline drain: ${b.drain.of - b.drain.survived} lost (${b.drain.reset} reset)`,
      );
  } catch (err) {
    error = (err as Error).message;
    s.say('lab', `STOPPED: ${error}`);
  }
  s.traffic?.stop();
  s.routes?.stop();
  const ok = error === undefined && s.expectations.length > 0 && s.expectations.every((e) => e.ok);
  for (const line of summaryLines('summary (ECMP)', s.measures, s.expectations)) print(line);
  if (error) print(`the lab stopped early: ${error}`);
  s.topo?.close();
  rmSync(s.work, { recursive: true, force: true });
  return { ok, expectations: s.expectations, measures: s.measures, ...(error ? { error } : {}) };
}
