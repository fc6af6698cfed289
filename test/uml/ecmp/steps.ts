// The steps the ECMP tests share: one topology per test file (src/lab/ecmp-topology.ts,
// the lab's), the router's table as the witness, and the client's counts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../helpers/wait.js';
import { allAnsweredSince, settledBefore } from '../../../src/lab/ecmp-outcome.js';
import { MH } from '../../../src/lab/ecmp-scenario.js';
import {
  createEcmpTopology,
  directorAddress,
  VIP,
  type Director,
  type EcmpTopology,
  type Traffic,
  type TrafficStats,
} from '../../../src/lab/ecmp-topology.js';

export const cli = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
export const LONG = 40;
export const NEW_PER_SEC = 10;

export interface EcmpRun {
  work: string;
  topo: EcmpTopology;
  traffic: Traffic | undefined;
  monitors: ChildProcess[];
  close(): void;
}

export function ecmpRun(tag: string): EcmpRun {
  const work = mkdtempSync(join(tmpdir(), `failoverd-uml-${tag}-`));
  const run: EcmpRun = {
    work,
    topo: undefined as unknown as EcmpTopology,
    traffic: undefined,
    monitors: [],
    close() {
      run.traffic?.stop();
      for (const m of run.monitors) if (m.exitCode === null) m.kill('SIGKILL');
      (run.topo as EcmpTopology | undefined)?.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
  return run;
}

/** The steps over one run's topology and traffic. */
export function ecmpSteps(s: EcmpRun) {
  const monitors = s.monitors;
  const all = () => s.topo.directors.map((d) => directorAddress(d.index)).sort();
  const without = (...ds: Director[]) => all().filter((a) => !ds.some((d) => directorAddress(d.index) === a));
  const hopsAre = (want: string[], what: string, timeoutMs = 60_000) =>
    waitFor(() => JSON.stringify(s.topo.nextHops()) === JSON.stringify(want), {
      what: `${what} (router next hops ${JSON.stringify(want)}, have ${JSON.stringify(s.topo.nextHops())})`,
      timeoutMs: timeoutMs,
      stepMs: 50,
    });

  /**
   * Every long connection answers again after `since` (each has more answers than then);
   * then every new connection started by that moment has its verdict (answered, refused,
   * or timed out after the client's 3 s), so that the counts are complete.
   */
  const allAnswering = async (since: TrafficStats, what: string): Promise<TrafficStats> => {
    let now = since;
    await waitFor(
      async () => {
        now = await s.traffic!.stats();
        return allAnsweredSince(since, now);
      },
      { what: `every long connection answering after ${what}`, timeoutMs: 60_000, stepMs: 500 },
    ).catch(() => undefined);
    const until = now.now;
    await waitFor(
      async () => {
        now = await s.traffic!.stats();
        return settledBefore(now, until);
      },
      { what: `every new connection started before ${what}'s count answered or failed`, timeoutMs: 30_000, stepMs: 250 },
    ).catch(() => undefined);
    return now;
  };

  /** Per director: its IPVS connections to the VIP and its sloppy_tcp. */
  const spread = () =>
    s.topo.directors
      .map((d) => {
        let conns = -1;
        try {
          conns = d.ns
            .exec('ipvsadm', ['-Lnc'])
            .split('\n')
            .filter((l) => l.includes(`${VIP}:7000`) && l.includes('ESTABLISHED')).length;
        } catch {
          /* link down */
        }
        return `${d.name}: ${conns} established, sloppy_tcp ${d.ns.sysctl('net.ipv4.vs.sloppy_tcp')}`;
      })
      .join('; ');
  const agentEvents = (d: Director, type: string) =>
    (d.agent?.logs ?? []).filter((l) => l.includes(`"${type}"`) || l.includes(type === 'route.withdrawn' ? 'withdrew' : 'announced '));
  const announced = (d: Director) => d.ns.ipJson<unknown[]>('route', 'show', 'table', '200', 'proto', '200').length > 0;
  const birdProtocols = () => s.topo.router.exec('birdc', ['-s', s.topo.routerSock, 'show', 'protocols'], { timeoutMs: 60_000 });
  /** Every BGP session of the router established, and the VIP on every director. */
  const sessionsUp = () =>
    waitFor(
      () => {
        const p = birdProtocols();
        return (
          s.topo.directors.every((d) => new RegExp(`${d.name}\\s+BGP\\s+\\S+\\s+up\\s+.*Established`).test(p)) &&
          s.topo.nextHops().length === s.topo.directors.length
        );
      },
      { what: 'every BGP session at the router established', timeoutMs: 120_000, stepMs: 500 },
    );

  /**
   * The set-up both files share: three directors (BIRD + failoverd, mh + sloppy_tcp)
   * announcing the VIP, every BGP session up, and the client's traffic with every long
   * connection answered. Resolves with the client's counts then.
   */
  const threeDirectors = async (): Promise<TrafficStats> => {
    s.topo = await createEcmpTopology({ work: s.work, cli, directors: 3, realServers: 3 });
    for (const d of s.topo.directors) {
      s.topo.writeConfig(d, MH);
      s.topo.startBird(d);
      s.topo.startAgent(d);
    }
    await hopsAre(all(), 'every director announced', 180_000);
    await sessionsUp();
    return startTraffic('start');
  };

  /** The client's traffic, (re)started; resolves once every long connection was answered, or after 60 s. */
  const startTraffic = async (what: string): Promise<TrafficStats> => {
    s.traffic?.stop();
    s.traffic = await s.topo.startTraffic(LONG, NEW_PER_SEC);
    const first = await s.traffic.stats();
    return allAnswering({ ...first, long: first.long.map((c) => ({ ...c, a: 0 })) }, what);
  };

  /** Kills the agent and BIRD together and takes the link down; resolves with the time of the cut. */
  const powerCut = async (d: Director): Promise<number> => {
    d.agent!.proc.kill('SIGKILL');
    d.ns.exec('sh', ['-c', `kill -9 $(cat ${d.birdPid}); ip link set eth0 down`]);
    const cut = Date.now();
    await d.agent!.exited;
    return cut;
  };
  /** tcpdump on the router's director-side link: resets from the VIP, whoever sends them. */
  const watchResets = (): { count(): number; stop(): void } => {
    const proc = spawn(
      'ip',
      ['netns', 'exec', s.topo.router.name, 'tcpdump', '-i', 'eth0', '-nn', '-l', `src host ${VIP} and tcp[tcpflags] & tcp-rst != 0`],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    monitors.push(proc);
    let n = 0;
    createInterface({ input: proc.stdout }).on('line', () => n++);
    return { count: () => n, stop: () => proc.kill('SIGKILL') };
  };

  return {
    all,
    without,
    hopsAre,
    threeDirectors,
    startTraffic,
    allAnswering,
    spread,
    agentEvents,
    announced,
    birdProtocols,
    sessionsUp,
    powerCut,
    watchResets,
  };
}
