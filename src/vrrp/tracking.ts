// What an instance tracks: interfaces (debounced link state), services (quorum
// reported from outside), scripts, files and processes; folded with the base priority into the
// effective priority and the objects that put the instance in FAULT.
import type { Clock } from '../clock.js';
import type { VrrpInstanceConfig } from './config.js';
import { Debounced } from './debounce.js';
import { effectivePriority, type EffectivePriority, type TrackedStatus, type TrackKind } from './priority.js';
import type { LinkState, VrrpHost } from './ports.js';
import { TrackFileWatcher } from './track-file.js';
import { TrackProcessWatcher, type ProcessScan } from './track-process.js';
import { TrackScriptRunner, type ScriptRun } from './track-script.js';

export interface TrackingDeps {
  host: VrrpHost;
  clock: Clock;
  /** A tracked object's value changed. */
  onChange: () => void;
  /** The instance's own interface changed (its addresses, its state). */
  onOwnLink: (link: LinkState) => void;
  runScript?: ScriptRun | undefined;
  trackFilePollMs?: number | undefined;
  scanProcesses?: ProcessScan | undefined;
  trackProcessPollMs?: number | undefined;
}

const trackKey = (kind: TrackKind, name: string): string => `${kind}/${name}`;

export class Tracking {
  private readonly tracked = new Map<string, TrackedStatus>();
  private readonly linkDebounce = new Map<string, Debounced>();
  private unwatch: (() => void)[] = [];
  private scripts: TrackScriptRunner[] = [];
  private files: TrackFileWatcher[] = [];
  private processes: TrackProcessWatcher | undefined;

  constructor(private readonly deps: TrackingDeps) {}

  /** Starts watching what `config` tracks; `link` is the instance's interface as just read. */
  async start(config: VrrpInstanceConfig, link: LinkState, previous: ReadonlyMap<string, boolean | number> = new Map()): Promise<void> {
    const c = config;
    const { host, clock } = this.deps;
    // Our own interface going down always means FAULT (weight 0).
    const interfaces = [{ name: c.interface, weight: 0 }, ...c.track.interfaces.filter((t) => t.name !== c.interface)];
    const ownWeight = c.track.interfaces.find((t) => t.name === c.interface);
    if (ownWeight) interfaces[0] = ownWeight;
    for (const t of interfaces) {
      const initial = t.name === link.name ? link : await host.link(t.name).catch(() => undefined);
      const status: TrackedStatus = {
        kind: 'interface',
        name: t.name,
        weight: t.weight,
        reverse: t.reverse ?? false,
        value: initial?.up ?? false,
      };
      this.tracked.set(trackKey('interface', t.name), status);
      const debounced = new Debounced(status.value as boolean, c.linkDebounce, clock, (up) => this.set('interface', t.name, up));
      this.linkDebounce.set(t.name, debounced);
      this.unwatch.push(
        host.watchLink(t.name, (l) => {
          if (t.name === c.interface) this.deps.onOwnLink(l);
          debounced.report(l.up);
        }),
      );
    }
    for (const s of c.track.services) {
      const was = previous.get(trackKey('service', s.name));
      this.tracked.set(trackKey('service', s.name), {
        kind: 'service',
        name: s.name,
        weight: s.weight,
        reverse: s.reverse ?? false,
        value: typeof was === 'boolean' ? was : true,
      });
    }
    for (const s of c.track.scripts) {
      const runner = new TrackScriptRunner(s, clock, (up) => this.set('script', s.name, up), this.deps.runScript);
      // A script's state carries over a restart in the runner itself, so that its next runs move it from there.
      const was = previous.get(trackKey('script', s.name));
      if (typeof was === 'boolean') runner.up = was;
      this.tracked.set(trackKey('script', s.name), {
        kind: 'script',
        name: s.name,
        weight: s.weight,
        reverse: s.reverse ?? false,
        value: runner.up,
      });
      this.scripts.push(runner);
      runner.start();
    }
    for (const f of c.track.files) {
      const watcher = new TrackFileWatcher(f.path, clock, (v) => this.set('file', f.path, v), this.deps.trackFilePollMs);
      await watcher.start();
      this.tracked.set(trackKey('file', f.path), {
        kind: 'file',
        name: f.path,
        weight: f.weight,
        reverse: f.reverse ?? false,
        value: watcher.value,
      });
      this.files.push(watcher);
    }
    if (c.track.processes.length) {
      const watcher = new TrackProcessWatcher(
        c.track.processes,
        clock,
        (name, up) => this.set('process', name, up),
        this.deps.trackProcessPollMs,
        this.deps.scanProcesses,
      );
      const initial = await watcher.start();
      for (const p of c.track.processes) {
        this.tracked.set(trackKey('process', p.name), {
          kind: 'process',
          name: p.name,
          weight: p.weight,
          reverse: p.reverse ?? false,
          value: initial.get(p.name) ?? false,
        });
      }
      this.processes = watcher;
    }
  }

  /** Stops watching; the statuses stay (status() still reports them) until clear(). */
  stop(): void {
    for (const u of this.unwatch) u();
    this.unwatch = [];
    for (const d of this.linkDebounce.values()) d.cancel();
    this.linkDebounce.clear();
    for (const s of this.scripts) s.stop();
    this.scripts = [];
    for (const f of this.files) f.stop();
    this.files = [];
    this.processes?.stop();
    this.processes = undefined;
  }

  clear(): void {
    this.tracked.clear();
  }

  /**
   * Tracks what `config` says from now on. Statuses reported from outside (service
   * quorum) and learned ones (scripts: `fall` results are not thrown away) carry over;
   * interfaces, files and processes are read anew (a stale value there would stick, as
   * their watchers report only changes from what they read).
   */
  async restart(config: VrrpInstanceConfig, link: LinkState): Promise<void> {
    const previous = new Map([...this.tracked].map(([k, v]) => [k, v.value]));
    this.stop();
    this.clear();
    await this.start(config, link, previous);
  }

  /** Records a tracked object's value; onChange is called when it differs. Unknown objects are ignored. */
  set(kind: TrackKind, name: string, value: boolean | number): void {
    const entry = this.tracked.get(trackKey(kind, name));
    if (!entry || entry.value === value) return;
    entry.value = value;
    this.deps.onChange();
  }

  /** What is tracked now, with each object's weight and value (for status). */
  statuses(): TrackedStatus[] {
    return [...this.tracked.values()].map((t) => ({ ...t }));
  }

  /** The effective priority of `base` with what is tracked now. */
  priority(base: number): EffectivePriority {
    return effectivePriority(base, [...this.tracked.values()]);
  }
}
