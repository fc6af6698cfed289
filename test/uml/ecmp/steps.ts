// The steps the ECMP tests share: one topology per test file (src/lab/ecmp-topology.ts,
// the lab's), the router's table as the witness, and the client's counts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../helpers/wait.js';
import { allAnsweredSince, flowOutcome, type FlowOutcome } from '../../../src/lab/ecmp-outcome.js';
import { directorAddress, VIP, type Director, type EcmpTopology, type Traffic, type TrafficStats } from '../../../src/lab/ecmp-topology.js';

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

  /** `ip monitor route` on the router: every change to the VIP's route while it runs. */
  const watchRoutes = (): { changes: string[]; stop(): void } => {
    const proc = spawn('ip', ['-n', s.topo.router.name, 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    monitors.push(proc);
    const changes: string[] = [];
    createInterface({ input: proc.stdout }).on('line', (l) => {
      if (l.includes(VIP)) changes.push(l);
    });
    return { changes, stop: () => proc.kill('SIGKILL') };
  };

  /** Every long connection answers again after `since` (each has more answers than then). */
  const allAnswering = async (since: TrafficStats, what: string): Promise<TrafficStats> => {
    let now = since;
    await waitFor(
      async () => {
        now = await s.traffic!.stats();
        return allAnsweredSince(since, now);
      },
      { what: `every long connection answering after ${what}`, timeoutMs: 60_000, stepMs: 500 },
    ).catch(() => undefined);
    return now;
  };

  const outcome = (before: TrafficStats, afterStats: TrafficStats): FlowOutcome => flowOutcome(before, afterStats);

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
    watchRoutes,
    allAnswering,
    outcome,
    spread,
    agentEvents,
    announced,
    birdProtocols,
    sessionsUp,
    powerCut,
    watchResets,
  };
}
