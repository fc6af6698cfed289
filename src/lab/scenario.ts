// The lab's scenario: traffic spread over both real servers; a real server fails
// its health check and returns; the master director crashes (kill -9) and the
// backup takes over, with a long-lived connection surviving through the IPVS
// sync daemon; the old master returns and preempts. Every expectation is judged
// from the client's point of view (its answers, who answered, its ARP cache, its
// long connection); kernel observations (VIP, IPVS table, synced connections)
// give the detection times. failoverd's own logs are only narrated.
import { formatDuration } from '../config/duration.js';
import { describeErrors, describeServers, firstAnswerAfter, longestSilence, sentBetween, tally } from './analysis.js';
import { Lab, sleep, type LabSetupOptions } from './lab.js';
import { formatMs, summaryLines, type Expectation, type Measure } from './report.js';
import type { ClientNotice, RequestSample } from './samples.js';
import { HOSTS, VIP } from './topology.js';

export const PARTS = ['spread', 'health', 'failover', 'preempt'] as const;
export type PartName = (typeof PARTS)[number];

export const PART_TITLES: Record<PartName, string> = {
  spread: 'traffic is spread over both real servers',
  health: 'rs1 fails its health check, leaves the table, and returns',
  failover: 'the master director crashes; the backup takes over; a long connection survives',
  preempt: 'the old master returns and takes over again (preempt)',
};

/** A part that needs the lab in another part's end state runs that part first. */
const NEEDS: Record<PartName, PartName[]> = { spread: [], health: [], failover: [], preempt: ['failover'] };

export function partsToRun(asked: readonly PartName[] | undefined): PartName[] {
  if (!asked || asked.length === 0) return [...PARTS];
  const want = new Set<PartName>();
  for (const p of asked) for (const q of [...NEEDS[p], p]) want.add(q);
  return PARTS.filter((p) => want.has(p));
}

/** The issue's goals: under 4 s at advert 1 s, under 500 ms at advert 100 ms. */
export function failoverGoalMs(advertIntervalMs: number): number {
  return advertIntervalMs >= 1000 ? 4 * advertIntervalMs : 4 * advertIntervalMs + 100;
}

export interface ScenarioOptions extends LabSetupOptions {
  parts?: PartName[];
  /** Called with the lab still running after the summary (--keep); the lab is torn down when it resolves. */
  keep?: (lab: Lab) => Promise<void>;
}

export interface ScenarioResult {
  ok: boolean;
  parts: PartName[];
  advertIntervalMs: number;
  expectations: Expectation[];
  measures: Measure[];
  /** Monotonic ms of the scenario's own actions (kill, boot, ...) and observed moments. */
  marks: Record<string, number>;
  t0: number;
  samples: RequestSample[];
  longSamples: RequestSample[];
  longNotices: ClientNotice[];
  vipEvents: Lab['vipEvents'];
  arpEvents: Lab['arpEvents'];
  /** Set when the lab could not run to the end (setup failed, a bound was hit). */
  error?: string;
}

const CLIENT_ADDRESS = HOSTS.find((h) => h.name === 'client')!.address;

class Scenario {
  readonly expectations: Expectation[] = [];
  readonly measures: Measure[] = [];
  readonly marks: Record<string, number> = {};

  constructor(readonly lab: Lab) {}

  expect(part: string, what: string, ok: boolean, observed: string): void {
    this.expectations.push({ part, what, ok, observed });
    this.lab.say('check', `${ok ? 'ok  ' : 'FAIL'} ${what} — ${observed}`);
  }

  measure(m: Measure): void {
    this.measures.push(m);
  }

  mark(name: string, t: number): number {
    this.marks[name] = t;
    return t;
  }

  /** Waits out the client's in-flight requests so samples sent before `t` are all in. */
  async settle(): Promise<number> {
    const t = this.lab.now();
    await sleep(this.lab.requestTimeoutMs + 150);
    return t;
  }

  async setup(): Promise<void> {
    const lab = this.lab;
    lab.heading("setup: the seed's DR lab, two directors running failoverd");
    await lab.build();
    // An agent in the UML kernel needs 10–30 s from `failoverd run` to its first state on a
    // loaded machine (module loading through hostfs); this waits for start-up, it measures nothing.
    await lab.waitFor(() => lab.vipHolders().join() === 'lvs-a', 120_000, 'lvs-a (priority 150) to hold the VIP alone');
    await lab.waitFor(
      () => ['lvs-a', 'lvs-b'].every((d) => lab.rotationOf(d).join() === 'rs1,rs2'),
      30_000,
      "both directors' IPVS tables to list rs1 and rs2",
    );
    await lab.startClient();
    await lab.waitFor(() => lab.samples.filter((s) => s.ok).length >= 5, 20_000, "the client's first answers");
    this.mark('ready', lab.now());
    lab.say('lab', 'ready: lvs-a is master, both tables list rs1 and rs2, the client is answered');
  }

  async spread(): Promise<void> {
    const lab = this.lab;
    const from = lab.now();
    await sleep(2000);
    const to = await this.settle();
    const t = tally(sentBetween(lab.samples, from, to));
    lab.say('client', `${t.answers} answers in ${((to - from) / 1000).toFixed(1)} s: ${describeServers(t.byServer)}; ${t.errors} errors`);
    this.measure({ part: 'spread', name: 'answers per real server (2 s)', text: `${describeServers(t.byServer)}; errors ${t.errors}` });
    this.expect(
      'spread',
      'every request is answered',
      t.answers > 0 && t.errors === 0,
      `${t.answers}/${t.requests} answered${t.errors ? `; ${describeErrors(t.errorKinds)}` : ''}`,
    );
    const share = (n: string): number => (t.byServer[n] ?? 0) / Math.max(1, t.answers);
    this.expect(
      'spread',
      'both real servers answer (round-robin)',
      share('rs1') >= 0.3 && share('rs2') >= 0.3,
      describeServers(t.byServer),
    );
  }

  async health(): Promise<void> {
    const lab = this.lab;
    const down = this.mark('rs1Killed', await lab.killRealServer('rs1'));
    const out = this.mark(
      'rs1Out',
      await lab.waitFor(
        () => lab.rotationEvents.find((e) => e.director === 'lvs-a' && e.t >= down && !e.rotation.includes('rs1'))?.t,
        20_000,
        "rs1 to leave lvs-a's IPVS rotation",
      ),
    );
    await sleep(2000);
    const outEnd = await this.settle();
    const during = tally(sentBetween(lab.samples, down, out));
    const after = tally(sentBetween(lab.samples, out, outEnd));
    lab.say('client', `while rs1 was out: ${after.answers} answers (${describeServers(after.byServer)}), ${after.errors} errors`);
    this.measure({ part: 'health', name: "rs1 killed → out of lvs-a's table", ms: out - down });
    this.measure({
      part: 'health',
      name: 'client errors before rs1 left the table',
      text: during.errors ? `${during.errors} (${describeErrors(during.errorKinds)})` : '0',
    });
    this.expect(
      'health',
      'no client error once rs1 left the table',
      after.answers > 0 && after.errors === 0,
      `${after.answers}/${after.requests} answered${after.errors ? `; ${describeErrors(after.errorKinds)}` : ''}`,
    );
    this.expect(
      'health',
      'only rs2 answers while rs1 is out',
      after.answers > 0 && (after.byServer['rs2'] ?? 0) === after.answers,
      describeServers(after.byServer),
    );

    await lab.startRealServer('rs1');
    const up = this.mark('rs1Started', lab.now());
    const back = this.mark(
      'rs1In',
      await lab.waitFor(
        () => lab.rotationEvents.find((e) => e.director === 'lvs-a' && e.t >= up && e.rotation.includes('rs1'))?.t,
        20_000,
        "rs1 to return to lvs-a's IPVS rotation",
      ),
    );
    const seen = await lab.waitFor(() => firstAnswerAfter(lab.samples, back, 'rs1'), 10_000, 'an answer from rs1').catch(() => undefined);
    await sleep(1500);
    const end = await this.settle();
    const returned = tally(sentBetween(lab.samples, up, end));
    this.measure({ part: 'health', name: "rs1 back → in lvs-a's table", ms: back - up });
    this.expect(
      'health',
      'rs1 answers the client again after it returns',
      seen !== undefined,
      seen ? `first answer from rs1 ${formatMs(seen.done - back)} after it re-entered the table` : 'rs1 never answered',
    );
    this.expect(
      'health',
      'no client error while rs1 returns',
      returned.answers > 0 && returned.errors === 0,
      `${returned.answers}/${returned.requests} answered (${describeServers(returned.byServer)})${returned.errors ? `; ${describeErrors(returned.errorKinds)}` : ''}`,
    );
  }

  async failover(): Promise<void> {
    const lab = this.lab;
    const first = await lab.openLongConnection();
    const port = first.localPort;
    const server = first.who ?? '?';
    this.mark('longOpened', first.done);
    // The master's sync daemon sends a connection once it has seen a few packets, in batches up to ~2 s apart.
    const synced = await lab
      .waitFor(
        () => lab.connectionsOf('lvs-b').find((c) => c.client === CLIENT_ADDRESS && c.clientPort === port),
        15_000,
        'the long connection to reach lvs-b through the sync daemon',
      )
      .catch(() => undefined);
    if (synced) {
      this.mark('longSynced', lab.now());
      lab.say(
        'lvs-b',
        `kernel: IPVS connection ${synced.client}:${synced.clientPort} → ${synced.destination}:${synced.destinationPort} ${synced.state}, received from lvs-a's sync daemon`,
      );
    }
    this.expect(
      'failover',
      'the long connection reaches the backup (IPVS sync) before the kill',
      synced !== undefined,
      synced ? `lvs-b holds ${CLIENT_ADDRESS}:${port} → ${synced.destination} (${synced.state})` : 'lvs-b never listed it',
    );
    await sleep(1000);
    const longBefore = lab.longSamples.filter((s) => s.ok).at(-1)!;

    const kill = this.mark('kill', await lab.crashDirector('lvs-a'));
    const vip = await lab
      .waitFor(() => lab.vipEvents.find((e) => e.director === 'lvs-b' && e.added && e.t > kill)?.t, 20_000, 'lvs-b to take the VIP')
      .catch(() => undefined);
    if (vip) this.mark('vipOnB', vip);
    const arp = await lab
      .waitFor(() => lab.arpEvents.find((e) => e.host === 'lvs-b' && e.t > kill)?.t, 10_000, "the client's ARP cache to point at lvs-b")
      .catch(() => undefined);
    if (arp) this.mark('arpOnB', arp);
    const answered = await lab
      .waitFor(() => firstAnswerAfter(lab.samples, vip ?? kill), 10_000, "the client's first answer after the failover")
      .catch(() => undefined);
    if (answered) this.mark('answeredAfterKill', answered.done);
    const longBack = await lab
      .waitFor(() => lab.longSamples.find((s) => s.ok && s.done > (vip ?? kill)), 25_000, 'the long connection to be answered again')
      .catch(() => undefined);
    if (longBack)
      lab.say(
        'client',
        `long connection :${port} answered again by ${longBack.who} (request #${longBack.connectionRequests} on that server-side connection), ${formatMs(longBack.done - longBefore.done)} after its last answer before the crash`,
        longBack.done,
      );
    await sleep(2000);
    const end = await this.settle();

    const goal = failoverGoalMs(lab.advertIntervalMs);
    const silence = answered ? longestSilence(lab.samples, kill, answered.done) : undefined;
    const outage = tally(sentBetween(lab.samples, kill, answered?.done ?? end));
    const after = answered ? tally(sentBetween(lab.samples, answered.done, end)) : undefined;
    this.measure({
      part: 'failover',
      name: 'failover gap (client: last answer → first answer)',
      ms: silence?.ms,
      goal: `< ${formatMs(goal)}`,
      goalMet: silence !== undefined && silence.ms < goal,
    });
    this.measure({ part: 'failover', name: 'kill → VIP on lvs-b (detection + takeover)', ms: vip !== undefined ? vip - kill : undefined });
    this.measure({ part: 'failover', name: 'kill → client ARP cache points at lvs-b', ms: arp !== undefined ? arp - kill : undefined });
    this.measure({
      part: 'failover',
      name: 'client requests failed during the failover',
      text: outage.errors ? `${outage.errors} of ${outage.requests} (${describeErrors(outage.errorKinds)})` : `0 of ${outage.requests}`,
    });
    this.measure({
      part: 'failover',
      name: 'long connection: silence across the failover',
      ms: longBack ? longBack.done - longBefore.done : undefined,
    });
    if (silence)
      lab.say(
        'client',
        `failover gap: last answer at ${lab.since(silence.lastAnswer).toFixed(3)}, next at ${lab.since(silence.nextAnswer).toFixed(3)} → ${formatMs(silence.ms)} without an answer`,
      );

    this.expect(
      'failover',
      'the client is answered through lvs-b after the crash (GARP updated its ARP cache)',
      arp !== undefined && answered !== undefined,
      `${arp !== undefined ? `ARP → lvs-b at +${formatMs(arp - kill)}` : 'ARP never pointed at lvs-b'}; ${answered ? `answered by ${answered.who} at +${formatMs(answered.done - kill)}` : 'never answered'}`,
    );
    this.expect(
      'failover',
      'no client error after the failover',
      after !== undefined && after.answers > 0 && after.errors === 0,
      after
        ? `${after.answers}/${after.requests} answered (${describeServers(after.byServer)})${after.errors ? `; ${describeErrors(after.errorKinds)}` : ''}`
        : 'never answered',
    );

    const longAfter = lab.longSamples.filter((s) => s.sent > kill || s.done > kill);
    const broke = lab.longNotices.find((n) => n.kind === 'closed' && n.t <= end);
    const sameServer = longAfter.length > 0 && longAfter.every((s) => s.ok && s.who === server && s.localPort === port);
    const continued = longBack !== undefined && (longBack.connectionRequests ?? 0) > (longBefore.connectionRequests ?? Infinity);
    this.expect(
      'failover',
      `the long connection opened before the crash is still answered by ${server}, on the same connection`,
      sameServer && continued && !broke && longAfter.filter((s) => s.ok).length >= 3,
      broke
        ? `it broke: ${broke.error}`
        : `${longAfter.filter((s) => s.ok).length} answers after the crash from ${[...new Set(longAfter.map((s) => s.who))].join(', ') || 'nobody'} on :${port}; server-side request count ${longBefore.connectionRequests} → ${longAfter.filter((s) => s.ok).at(-1)?.connectionRequests ?? '—'}`,
    );
  }

  async preempt(): Promise<void> {
    const lab = this.lab;
    const longBefore = lab.longSamples.filter((s) => s.ok).at(-1);
    const boot = this.mark('bootA', lab.bootDirector('lvs-a'));
    const vip = await lab.waitFor(
      () => lab.vipEvents.find((e) => e.director === 'lvs-a' && e.added && e.t > boot)?.t,
      120_000,
      'lvs-a to take the VIP back',
    );
    this.mark('vipOnA', vip);
    const tableAtTakeover = lab.rotationOf('lvs-a');
    const longPort = longBefore?.localPort;
    const longKnownToA =
      longPort !== undefined && lab.connectionsOf('lvs-a').some((c) => c.client === CLIENT_ADDRESS && c.clientPort === longPort);
    const released = await lab
      .waitFor(() => lab.vipEvents.find((e) => e.director === 'lvs-b' && !e.added && e.t > boot)?.t, 10_000, 'lvs-b to release the VIP')
      .catch(() => undefined);
    const arp = await lab
      .waitFor(() => lab.arpEvents.find((e) => e.host === 'lvs-a' && e.t > boot)?.t, 10_000, "the client's ARP cache to point at lvs-a")
      .catch(() => undefined);
    if (arp) this.mark('arpOnA', arp);
    const answered = await lab
      .waitFor(() => firstAnswerAfter(lab.samples, arp ?? vip), 10_000, 'an answer through lvs-a')
      .catch(() => undefined);
    await sleep(2000);
    const end = await this.settle();

    const silence = longestSilence(lab.samples, vip - 1000, end);
    const during = tally(sentBetween(lab.samples, boot, end));
    const after = arp !== undefined ? tally(sentBetween(lab.samples, arp, end)) : undefined;
    this.measure({ part: 'preempt', name: 'lvs-a boot → VIP back on lvs-a', ms: vip - boot });
    this.measure({
      part: 'preempt',
      name: 'lvs-b drops the VIP (relative to lvs-a adding it)',
      ms: released !== undefined ? released - vip : undefined,
    });
    this.measure({ part: 'preempt', name: 'longest client silence around the preempt', ms: silence?.ms });
    this.measure({
      part: 'preempt',
      name: 'client requests failed during the preempt',
      text: during.errors ? `${during.errors} of ${during.requests} (${describeErrors(during.errorKinds)})` : `0 of ${during.requests}`,
    });
    lab.say('lab', `lvs-a's IPVS table when it took the VIP: ${tableAtTakeover.join(', ') || 'empty'}`);
    this.expect(
      'preempt',
      'lvs-a takes the VIP back and the client is answered through it',
      arp !== undefined && answered !== undefined,
      `${arp !== undefined ? `ARP → lvs-a ${formatMs(arp - boot)} after boot` : 'ARP never pointed at lvs-a'}; ${answered ? `answered by ${answered.who}` : 'not answered'}`,
    );
    this.expect(
      'preempt',
      'no client error once its ARP cache points at lvs-a',
      after !== undefined && after.answers > 0 && after.errors === 0,
      after
        ? `${after.answers}/${after.requests} answered (${describeServers(after.byServer)})${after.errors ? `; ${describeErrors(after.errorKinds)}` : ''}`
        : '—',
    );
    if (longBefore) {
      const broke = lab.longNotices.find((n) => n.kind === 'closed' && n.t > boot);
      const last = lab.longSamples.filter((s) => s.ok).at(-1)!;
      const fate = broke ? `broke (${broke.error})` : last.done > vip ? `survived, ${last.who}` : 'no answer since';
      this.measure({
        part: 'preempt',
        name: 'long connection across the preempt (informational)',
        text: `${fate}; ${longKnownToA ? 'was' : 'was not'} synced to lvs-a before it took over`,
      });
    }
  }
}

export async function runScenario(options: ScenarioOptions = {}): Promise<ScenarioResult> {
  const parts = partsToRun(options.parts);
  const lab = new Lab(options);
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const scenario = new Scenario(lab);
  let error: string | undefined;
  print(
    `failoverd lab: client → VIP ${VIP}:80 → lvs-a (150) / lvs-b (100), DR, round-robin, rs1 + rs2; VRRPv3 advert ${formatDuration(lab.advertIntervalMs)}`,
  );
  print(
    `scenario: ${parts.join(', ')}. Times are seconds since the lab started; "kernel:" lines are what a namespace's kernel holds, "failoverd:" lines are the agent's own log.`,
  );
  try {
    await scenario.setup();
    for (const part of parts) {
      lab.heading(`${part}: ${PART_TITLES[part]}`);
      await scenario[part]();
    }
  } catch (err) {
    error = (err as Error).message;
    lab.say('lab', `STOPPED: ${error}`);
  }
  lab.quiet = true;
  await lab.stopClient();
  await lab.closeLongConnection();
  const ok = error === undefined && scenario.expectations.length > 0 && scenario.expectations.every((e) => e.ok);
  for (const line of summaryLines(`summary (advert ${formatDuration(lab.advertIntervalMs)})`, scenario.measures, scenario.expectations))
    print(line);
  if (error) print(`the lab stopped early: ${error}`);
  const result: ScenarioResult = {
    ok,
    parts,
    advertIntervalMs: lab.advertIntervalMs,
    expectations: scenario.expectations,
    measures: scenario.measures,
    marks: scenario.marks,
    t0: lab.t0,
    samples: lab.samples,
    longSamples: lab.longSamples,
    longNotices: lab.longNotices,
    vipEvents: lab.vipEvents,
    arpEvents: lab.arpEvents,
    ...(error ? { error } : {}),
  };
  try {
    if (options.keep) {
      // Whatever happens while the user pokes at the lab is narrated too.
      lab.quiet = false;
      await options.keep(lab);
      lab.quiet = true;
    }
  } finally {
    await lab.destroy();
  }
  return result;
}
