// Runs the pure diff (reconcile.ts) against a table: serialized passes that never
// overlap, bursts of desired-state changes coalesced, a periodic audit that reads
// the whole kernel table and repairs drift, drains that finish on their own, and
// retries when someone else changes the table under an apply. It never flushes
// and never deletes anything it does not own; stop() leaves the table as it is.
//
// Between audits it trusts its view of the kernel (view.ts) and diffs only the
// services whose desired entry changed, plus those draining: a 1% change to a
// large table costs about 1% of a full pass. Whenever the view may be wrong (an
// op refused, a pass that failed) it reads the whole table and diffs everything.
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Clock, TimerHandle } from '../clock.js';
import type { EventBus } from '../events.js';
import type { TurnGate } from '../turn-gate.js';
import type { Logger } from '../log.js';
import { applyOps } from './apply.js';
import {
  describeOp,
  drainKey,
  findDrift,
  normalizeDesired,
  opServiceKey,
  reconcileInPieces,
  type DrainEntry,
  type IpvsOp,
  type ReconcileInput,
  type ReconcileOutput,
} from './diff.js';
import { destinationsOrNone, type IpvsTable } from './table.js';
import { destinationId, serviceKeyId, type ActualService, type DesiredService } from './types.js';
import { applyOpsToView, keepHeldDestinations, refreshDestinations, viewOf, type TableView } from './view.js';

/**
 * A read of many services, and a diff of many, lets the event loop go around (and asks
 * the turn gate) each time it has done about this many real servers since it last did.
 * In one go, an audit held the thread that also sends the VRRP adverts for as long as
 * the whole table took to decode: 84–170 ms at 10,000 real servers in UML
 * (bench/ipvs/audit-hold.ts), longer than a Master_Down_Interval at 20 ms adverts; and
 * while real servers flap, the drain poll reads and diffs most of the table every second.
 */
const PIECE_DESTINATIONS = 500;

export interface ReconcilerOptions {
  table: IpvsTable;
  clock: Clock;
  logger: Logger;
  events?: EventBus;
  /** How long a removed real server (or service) may keep connections before it is deleted anyway. Per service id when a function. Default 60 s. */
  drainTimeoutMs?: number | ((serviceId: string) => number);
  /** Full re-read of the kernel table to repair drift. Default 10 s. */
  auditIntervalMs?: number;
  /** While something drains, how often its connection counters are re-read. Default 1 s. */
  drainPollMs?: number;
  /** Re-read and retry this many times when ops fail mid-apply. Default 3. */
  maxRetries?: number;
  /** Ops log capacity (a ring buffer). Default 1000. */
  opsLogSize?: number;
  /** A pass's diff and apply start only when this lets them (a VRRP deadline is not near). */
  turnGate?: Pick<TurnGate, 'waitMs'>;
  /** A read or a diff of many services lets the event loop turn after about this many real servers (an apply, after the batch of ops that passes it). Default 500. */
  pieceDestinations?: number;
  /**
   * What runs between two pieces. Default: a 1 ms sleep, so that the thread blocks
   * between pieces (a real-time VRRP thread's RLIMIT_RTTIME budget counts CPU time until
   * it blocks, and the process's other threads at normal priority get the CPU); tests
   * give a turn of the event loop instead.
   */
  pauseBetweenPieces?: () => Promise<void>;
}

export type PassKind = 'apply' | 'audit' | 'drain';

export interface PassReport {
  kinds: PassKind[];
  /** Wall time the pass started (ISO). */
  at: string;
  durationMs: number;
  /** Ops issued over all attempts. */
  ops: number;
  failed: number;
  attempts: number;
  drift: number;
  /** The owned part of the table matches the desired one (drains aside). */
  converged: boolean;
  /** Where the time went: reading the kernel, computing the diff, applying ops. */
  timings?: { readMs: number; diffMs: number; applyMs: number };
  error?: string;
}

export interface OpsLogEntry {
  seq: number;
  at: string;
  pass: number;
  op: IpvsOp['kind'];
  service: string;
  destination?: string;
  reason: string;
  purpose: IpvsOp['purpose'];
  /** "ok", or the errno code it failed with. */
  result: string;
}

export interface DrainStatus {
  service: string;
  destination?: string;
  startedAt: string;
  deadline: string;
  remainingMs: number;
  connections: number;
}

export class Reconciler {
  private readonly table: IpvsTable;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly events: EventBus | undefined;
  private readonly drainTimeout: (serviceId: string) => number;
  private readonly auditIntervalMs: number;
  private readonly drainPollMs: number;
  private readonly maxRetries: number;
  private readonly opsLogSize: number;
  private readonly turnGate: Pick<TurnGate, 'waitMs'> | undefined;
  private readonly pieceDestinations: number;
  private readonly pauseBetweenPieces: () => Promise<void>;

  private desired = new Map<string, DesiredService>();
  /** What `desired` was normalized from, as given: an entry given again as the very same object is unchanged. */
  private desiredInputs: readonly DesiredService[] = [];
  /** Services whose desired entry changed since they were last found in order. */
  private dirty = new Set<string>();
  /** The next pass diffs every owned service (the last one did not converge). */
  private diffAll = true;
  /** The next pass reads the whole table first (the last one failed halfway). */
  private readAll = false;
  /** Some drain waits for connection counters this process has not read yet. */
  private countersPending = false;
  private retired = new Set<string>();
  private drains = new Map<string, DrainEntry>();
  /** The kernel table as failoverd last read it or left it (acknowledged ops). */
  private view: TableView | undefined;
  private converged = false;
  private lastReport: PassReport | undefined;
  private readonly log_: OpsLogEntry[] = [];
  private opSeq = 0;
  private passSeq = 0;

  private started = false;
  private stopped = false;
  private pending = new Set<PassKind>();
  private waiters: ((r: PassReport) => void)[] = [];
  private running: Promise<void> | undefined;
  private auditTimer: TimerHandle | undefined;
  private drainTimer: TimerHandle | undefined;

  constructor(options: ReconcilerOptions) {
    this.table = options.table;
    this.clock = options.clock;
    this.log = options.logger.child({ component: 'ipvs' });
    this.events = options.events;
    const t = options.drainTimeoutMs ?? 60_000;
    this.drainTimeout = typeof t === 'function' ? t : () => t;
    this.auditIntervalMs = options.auditIntervalMs ?? 10_000;
    this.drainPollMs = options.drainPollMs ?? 1000;
    this.maxRetries = options.maxRetries ?? 3;
    this.opsLogSize = options.opsLogSize ?? 1000;
    this.turnGate = options.turnGate;
    this.pieceDestinations = options.pieceDestinations ?? PIECE_DESTINATIONS;
    this.pauseBetweenPieces = options.pauseBetweenPieces ?? (() => sleep(1));
  }

  /** Adopts the kernel table as it is (no flush) and starts converging and auditing. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    void this.request('audit');
    this.armAudit();
  }

  /**
   * The table failoverd should have. Applied promptly; calls during a pass are
   * coalesced into one follow-up pass with the latest table. The promise resolves
   * with the report of the pass that applied it and never rejects (an invalid
   * table is refused and reported, the previous one stays).
   */
  setDesired(desired: readonly DesiredService[]): Promise<PassReport> {
    let next: Map<string, DesiredService>;
    try {
      next = normalizeDesired(desired, this.desired, this.desiredInputs);
    } catch (err) {
      const error = `desired IPVS table refused: ${(err as Error).message}`;
      this.log.error({ err }, error);
      this.events?.publish({ type: 'ipvs.error', object: 'ipvs', reason: error });
      return Promise.resolve(this.noPass(this.converged, error));
    }
    // A service given as last time keeps its normalized object: identity is the test.
    next.forEach((d, id) => {
      if (this.desired.get(id) !== d) this.dirty.add(id);
    });
    this.desired.forEach((_, id) => {
      if (next.has(id)) return;
      this.retired.add(id);
      this.dirty.add(id);
    });
    for (const id of this.retired) if (next.has(id)) this.retired.delete(id);
    this.desired = next;
    // A copy: a caller that refills its own array must not change what was given.
    this.desiredInputs = [...desired];
    this.converged = false;
    if (!this.started || this.stopped) return Promise.resolve(this.noPass(false, 'not started'));
    return this.request('apply');
  }

  /** The report of a request that ran no pass: nothing read, nothing applied. */
  private noPass(converged: boolean, error: string): PassReport {
    return { kinds: [], at: this.clock.wallNow().toISOString(), durationMs: 0, ops: 0, failed: 0, attempts: 0, drift: 0, converged, error };
  }

  /** Runs an audit now (full read, drift repair); resolves when it is done. */
  audit(): Promise<PassReport> {
    return this.request('audit');
  }

  /** Resolves when no pass is running or queued (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Stops timers and waits for a pass in progress. Removes nothing. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.started = false;
    this.auditTimer?.cancel();
    this.drainTimer?.cancel();
    this.auditTimer = this.drainTimer = undefined;
    await this.running;
  }

  /** For on_stop: remove — deletes every service failoverd owns, at once. */
  async removeOwned(): Promise<PassReport> {
    await this.running;
    const started = this.clock.now();
    const at = this.clock.wallNow().toISOString();
    const pass = ++this.passSeq;
    const owned = this.ownedIds();
    const view = viewOf(await this.table.listServices());
    const ops: IpvsOp[] = [...view.values()]
      .filter((a) => owned.has(serviceKeyId(a.service.key)))
      .map((a) => ({ kind: 'deleteService', key: a.service.key, reason: 'on_stop: remove', purpose: 'converge' }));
    const results = await applyOps(this.table, ops, { onApplied: (done) => applyOpsToView(view, done) });
    this.recordAll(pass, results);
    this.view = view;
    this.drains.clear();
    this.retired.clear();
    const failed = results.filter((r) => r.error && r.error !== 'ESRCH').length;
    return {
      kinds: [],
      at,
      durationMs: this.clock.now() - started,
      ops: ops.length,
      failed,
      attempts: 1,
      drift: 0,
      converged: failed === 0,
    };
  }

  /** The kernel table as last seen (all services, foreign ones too). */
  lastActual(): ActualService[] {
    return structuredClone([...(this.view?.values() ?? [])]);
  }

  /** A fresh read of the kernel table. */
  readActual(): Promise<ActualService[]> {
    return this.table.listServices();
  }

  /** The last `limit` kernel operations (all kept by default), oldest first, each with its reason and result: `failoverd status` shows them. */
  opsLog(limit = Infinity): OpsLogEntry[] {
    return this.log_.slice(Math.max(0, this.log_.length - limit));
  }

  /** The report of the last pass (what it read, applied and found); the IPVS bench reads its timings. */
  lastPass(): PassReport | undefined {
    return this.lastReport;
  }

  /** What is draining now (removed real servers and services, waiting for their connections): the status API shows it. */
  draining(): DrainStatus[] {
    const now = this.clock.now();
    const wall = this.clock.wallNow().getTime();
    const iso = (mono: number): string => new Date(wall + (mono - now)).toISOString();
    const connections = new Map<string, number>();
    for (const a of this.view?.values() ?? []) {
      const id = serviceKeyId(a.service.key);
      let total = 0;
      for (const d of a.destinations) {
        const conns = d.activeConnections + d.inactiveConnections;
        total += conns;
        connections.set(drainKey(id, destinationId(d)), conns);
      }
      connections.set(id, total);
    }
    return [...this.drains.values()].map((e) => {
      const s: DrainStatus = {
        service: e.service,
        startedAt: iso(e.startedAt),
        deadline: iso(e.deadline),
        remainingMs: Math.max(0, e.deadline - now),
        connections: connections.get(drainKey(e.service, e.destination)) ?? 0,
      };
      if (e.destination) s.destination = e.destination;
      return s;
    });
  }

  // ---- passes ----

  private ownedIds(): Set<string> {
    return new Set([...this.desired.keys(), ...this.retired]);
  }

  private request(kind: PassKind): Promise<PassReport> {
    this.pending.add(kind);
    const done = new Promise<PassReport>((resolve) => this.waiters.push(resolve));
    if (!this.running) {
      // A pass starts in a turn of the event loop of its own: the burst of requests
      // that came in this one shares it, and the work that asked for it (a message of
      // the health-check thread) and the diff do not add up into one long turn that
      // holds a due VRRP advert.
      this.running = nextTurn().then(() => this.drive());
    }
    return done;
  }

  private async drive(): Promise<void> {
    while (this.pending.size > 0) {
      const kinds = [...this.pending];
      const waiters = this.waiters;
      this.pending = new Set();
      this.waiters = [];
      let report: PassReport;
      if (this.stopped) {
        report = {
          kinds,
          at: this.clock.wallNow().toISOString(),
          durationMs: 0,
          ops: 0,
          failed: 0,
          attempts: 0,
          drift: 0,
          converged: this.converged,
          error: 'stopped',
        };
      } else {
        report = await this.pass(kinds);
      }
      this.lastReport = report;
      for (const w of waiters) w(report);
    }
    // Cleared in the same synchronous step as the last check of `pending`, so a
    // request arriving from here on starts a new drive instead of being lost.
    this.running = undefined;
    this.armDrainPoll();
  }

  private async pass(kinds: PassKind[]): Promise<PassReport> {
    const started = this.clock.now();
    const pass = ++this.passSeq;
    const report: PassReport = {
      kinds,
      at: this.clock.wallNow().toISOString(),
      durationMs: 0,
      ops: 0,
      failed: 0,
      attempts: 0,
      drift: 0,
      converged: false,
    };
    const timings = { readMs: 0, diffMs: 0, applyMs: 0 };
    report.timings = timings;
    let mark = performance.now();
    const lap = (phase: keyof typeof timings): void => {
      const t = performance.now();
      timings[phase] += t - mark;
      mark = t;
    };
    // Taken now: a setDesired during this pass marks its services for the next one.
    const dirty = this.dirty;
    this.dirty = new Set();
    try {
      let fresh = await this.readForPass(kinds, report);
      lap('readMs');
      await this.gateOpen();
      mark = performance.now();
      for (let attempt = 0; ; attempt++) {
        const freshNow = fresh;
        const countersFresh = freshNow === 'all' ? () => true : (id: string) => freshNow.has(id);
        const out = await this.diffPaced({
          desired: this.desired,
          actual: this.view!,
          retired: this.retired,
          drains: this.drains,
          now: this.clock.now(),
          drainTimeoutMs: this.drainTimeout,
          scope: freshNow === 'all' || this.diffAll ? undefined : this.scope(dirty, freshNow),
          countersFresh,
        });
        this.countersPending = [...out.drains.values()].some((e) => !countersFresh(e.service));
        this.noteDrainChanges(out.drains);
        this.drains = out.drains;
        this.retired = out.retired;
        report.attempts = attempt + 1;
        lap('diffMs');
        if (out.ops.length === 0) {
          report.converged = true;
          break;
        }
        // The diff and the apply do not share a turn either (with the memory table the apply never waits at all).
        await nextTurn();
        await this.gateOpen();
        mark = performance.now();
        const view = this.view!;
        const pacer = this.piecePacer();
        const results = await applyOps(this.table, out.ops, {
          onApplied: (done) => applyOpsToView(view, done),
          betweenBatches: (opsApplied) => pacer.done(opsApplied),
        });
        lap('applyMs');
        report.ops += results.length;
        this.recordAll(pass, results);
        const failures = results.filter((r) => r.error);
        if (failures.length === 0) {
          report.converged = true;
          break;
        }
        report.failed += failures.length;
        // Someone else changed the table (or refused a value): look again and redo the diff.
        this.view = (await this.readTable()).view;
        fresh = 'all';
        lap('readMs');
        if (attempt >= this.maxRetries) {
          report.error = `not converged after ${attempt + 1} attempts: ${failures
            .slice(0, 3)
            .map((f) => `${describeOp(f.op)}: ${f.message}`)
            .join('; ')}`;
          this.log.error({ failures: failures.map((f) => ({ op: describeOp(f.op), error: f.error, message: f.message })) }, report.error);
          this.events?.publish({ type: 'ipvs.error', object: 'ipvs', reason: report.error, data: { failed: failures.length } });
          break;
        }
        this.log.warn(
          { failed: failures.map((f) => `${describeOp(f.op)}: ${f.error}`) },
          'IPVS ops failed mid-apply; re-read the table, retrying',
        );
      }
    } catch (err) {
      // Whatever was half done, the next pass starts from a full read.
      this.readAll = true;
      report.error = `IPVS pass failed: ${(err as Error).message}`;
      this.log.error({ err }, report.error);
      this.events?.publish({ type: 'ipvs.error', object: 'ipvs', reason: report.error });
    }
    this.converged = report.converged;
    this.diffAll = !report.converged;
    report.durationMs = this.clock.now() - started;
    this.log.debug({ report }, 'IPVS pass');
    return report;
  }

  /** Waits while the turn gate holds bulk work back (each wait ends within its lead + grace). */
  private async gateOpen(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const wait = this.turnGate?.waitMs() ?? 0;
      if (wait <= 0) return;
      await new Promise<void>((resolve) => this.clock.setTimer(Math.ceil(wait), resolve));
    }
  }

  /**
   * An audit (or the first pass) reads the whole table and reports drift. Other
   * passes trust the view; a drain pass re-reads the connection counters of the
   * services where something drains (one dump of that service's real servers
   * each). An apply pass reads nothing: it only ever sets weights to 0 on
   * counters it has not read, and leaves deleting to the drain pass that follows
   * at once. Returns which services' counters are fresh.
   */
  private async readForPass(kinds: PassKind[], report: PassReport): Promise<'all' | Set<string>> {
    if (kinds.includes('audit') || !this.view || this.readAll) {
      const { view: fresh, inPieces } = await this.readTable();
      this.readAll = false;
      // After a read of several pieces, its last piece, the drift check and the diff each
      // get a turn of their own: in one, they held the loop for 30–40 ms at 10,000 real
      // servers in UML.
      if (inPieces) await this.pauseBetweenPieces();
      if (this.view) {
        const drift = findDrift(this.view, fresh, this.ownedIds());
        report.drift = drift.length;
        for (const d of drift) {
          const object = `ipvs/${d.service}${d.destination ? `/${d.destination}` : ''}`;
          this.log.warn({ service: d.service, destination: d.destination }, `IPVS drift: ${d.what} behind failoverd's back; repairing`);
          this.events?.publish({
            type: 'ipvs.drift',
            object,
            reason: d.what,
            data: { service: d.service, ...(d.destination ? { destination: d.destination } : {}) },
          });
        }
      }
      this.view = fresh;
      if (inPieces) await this.pauseBetweenPieces();
      return 'all';
    }
    const refreshed = new Set<string>();
    if (!kinds.includes('drain')) return refreshed;
    const view = this.view;
    // A service at a time, paced like a full read: while real servers flap, something
    // drains in most services, and this runs every drainPollMs.
    const pacer = this.piecePacer();
    for (const id of this.drainingServices()) {
      const a = view.get(id);
      if (!a) continue;
      const destinations = await this.table.listDestinations(a.service.key);
      if (view.get(id) === a) refreshDestinations(view, id, destinations);
      refreshed.add(id);
      await pacer.done(destinations.length);
    }
    return refreshed;
  }

  /**
   * The whole table: the services, then each one's real servers, a service at a
   * time, letting the event loop turn between pieces of about pieceDestinations
   * real servers (a service is never split: its real servers come in one dump).
   * `inPieces`: it paused at least once.
   */
  private async readTable(): Promise<{ view: TableView; inPieces: boolean }> {
    const services = await this.table.listServicesWithoutDestinations();
    const held = this.view;
    const pacer = this.piecePacer();
    for (const s of services) {
      const fresh = await destinationsOrNone(this.table, s.service.key);
      s.destinations = keepHeldDestinations(held?.get(serviceKeyId(s.service.key))?.destinations, fresh);
      await pacer.done(fresh.length);
    }
    return { view: viewOf(services), inPieces: pacer.paused };
  }

  /** Between two pieces of a read, a diff or an apply: the pause, then the turn gate. */
  private async betweenPieces(): Promise<void> {
    await this.pauseBetweenPieces();
    await this.gateOpen();
  }

  /** reconcile() a piece at a time, the event loop turning (and the turn gate asked) between pieces. */
  private async diffPaced(input: ReconcileInput): Promise<ReconcileOutput> {
    const pieces = reconcileInPieces(input, this.pieceDestinations);
    for (;;) {
      const step = pieces.next();
      if (step.done) return step.value;
      await this.betweenPieces();
    }
  }

  /**
   * For a read of many services or an apply of many ops: `done` is called after each
   * service read (with its real servers) or batch applied (with its ops), and lets the
   * event loop turn, and waits while the turn gate holds, once about pieceDestinations
   * of them were done since it last did.
   */
  private piecePacer(): { done(count: number): Promise<void>; readonly paused: boolean } {
    let inPiece = 0;
    let paused = false;
    return {
      done: async (count) => {
        inPiece += count;
        if (inPiece < this.pieceDestinations) return;
        inPiece = 0;
        paused = true;
        await this.betweenPieces();
      },
      get paused() {
        return paused;
      },
    };
  }

  private drainingServices(): Set<string> {
    const out = new Set(this.retired);
    for (const e of this.drains.values()) out.add(e.service);
    return out;
  }

  /** What a pass that trusts the view must look at: changed services, and whatever drains. */
  private scope(dirty: ReadonlySet<string>, refreshed: ReadonlySet<string>): Set<string> {
    const out = this.drainingServices();
    for (const id of dirty) out.add(id);
    for (const id of refreshed) out.add(id);
    return out;
  }

  private noteDrainChanges(next: Map<string, DrainEntry>): void {
    for (const [key, e] of next) {
      if (this.drains.has(key)) continue;
      const object = `ipvs/${e.service}${e.destination ? `/${e.destination}` : ''}`;
      this.log.info(
        { service: e.service, destination: e.destination, deadlineInMs: e.deadline - e.startedAt },
        `draining ${e.destination ?? e.service}`,
      );
      this.events?.publish({ type: 'ipvs.drain', object, to: 'draining', data: { timeoutMs: e.deadline - e.startedAt } });
    }
    for (const [key, e] of this.drains) {
      if (next.has(key)) continue;
      const object = `ipvs/${e.service}${e.destination ? `/${e.destination}` : ''}`;
      this.events?.publish({ type: 'ipvs.drain', object, from: 'draining', to: 'done' });
    }
  }

  /** Ops log and log lines for a batch of results; one timestamp for the batch. */
  private recordAll(pass: number, results: readonly { op: IpvsOp; error?: string; message?: string }[]): void {
    const at = this.clock.wallNow().toISOString();
    // Past 50 ops one line per op would drown the log: each at debug level, plus a summary.
    const quiet = results.length > 50;
    const perOp = !quiet || this.log.isLevelEnabled('debug');
    // Entries the ring buffer would drop at once are not made (a full apply has
    // thousands): only their sequence numbers are taken.
    const firstKept = Math.max(0, results.length - this.opsLogSize);
    let failed = 0;
    results.forEach((r, i) => {
      const seq = ++this.opSeq;
      if (r.error) failed++;
      if (i < firstKept && !r.error && !perOp) return;
      const op = r.op;
      const entry: OpsLogEntry = {
        seq,
        at,
        pass,
        op: op.kind,
        service: serviceKeyId(opServiceKey(op)),
        reason: op.reason,
        purpose: op.purpose,
        result: r.error ?? 'ok',
      };
      if ('destination' in op) entry.destination = destinationId(op.destination);
      if (i >= firstKept) this.log_.push(entry);
      if (!r.error && !perOp) return;
      const fields = { op: op.kind, service: entry.service, destination: entry.destination, reason: op.reason };
      if (r.error) this.log.warn({ ...fields, error: r.error, message: r.message }, `IPVS ${describeOp(op)} failed: ${r.error}`);
      else if (quiet) this.log.debug(fields, `IPVS ${describeOp(op)}: ${op.reason}`);
      else this.log.info(fields, `IPVS ${describeOp(op)}: ${op.reason}`);
    });
    if (this.log_.length > this.opsLogSize) this.log_.splice(0, this.log_.length - this.opsLogSize);
    if (quiet) this.log.info({ ops: results.length, failed }, `IPVS: applied ${results.length} ops (each logged at debug level)`);
  }

  // ---- timers ----

  private armAudit(): void {
    this.auditTimer?.cancel();
    if (this.stopped || this.auditIntervalMs <= 0) return;
    this.auditTimer = this.clock.setTimer(this.auditIntervalMs, () => {
      this.auditTimer = undefined;
      void this.request('audit');
      this.armAudit();
    });
  }

  private armDrainPoll(): void {
    this.drainTimer?.cancel();
    this.drainTimer = undefined;
    if (this.stopped || this.drains.size === 0) return;
    const now = this.clock.now();
    const nextDeadline = Math.min(...[...this.drains.values()].map((e) => e.deadline));
    const delay = this.countersPending ? 0 : Math.max(0, Math.min(this.drainPollMs, nextDeadline - now));
    this.drainTimer = this.clock.setTimer(delay, () => {
      this.drainTimer = undefined;
      void this.request('drain');
    });
  }
}
