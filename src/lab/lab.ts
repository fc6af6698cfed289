// The running lab: topology, the processes in it (real servers, the two
// failoverd directors, the client's loops) and observers of what each kernel
// and the client see. It narrates every change as one timeline line. The
// scenario (scenario.ts) drives it; everything is bounded in time and cleaned up
// by PID and namespace name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDuration } from '../config/duration.js';
import { RtnlWatcher } from '../net/rtnetlink.js';
import { ClientNarration } from './client-narration.js';
import { directorConfigs, type DirectorConfig } from './configs.js';
import { monoMs } from './mono.js';
import { parseProcArp, parseProcIpvs, parseProcIpvsConn, readProcNet, type ProcIpvsConnection } from './procnet.js';
import { ProcessSet, type LabProcess } from './processes.js';
import { timelineLine } from './report.js';
import { isSample, parseClientLine, type ClientNotice, type RequestSample } from './samples.js';
import { HOSTS, SERVICE_PORT, Topology, VIP, sh } from './topology.js';

const script = (name: string): string => fileURLToPath(new URL(`./${name}.js`, import.meta.url));
const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));
const POLL_MS = 20;

export interface LabSetupOptions {
  /** Prepended to namespace names; "" gives client, lvs-a, lvs-b, rs1, rs2. */
  prefix?: string;
  /** Overrides the directors' advert_interval ("100ms"). */
  advertInterval?: string;
  /** Where narration lines go (default: stdout). */
  print?: (line: string) => void;
  /** Client request cadence and per-request deadline. */
  requestEveryMs?: number;
  requestTimeoutMs?: number;
}

export interface TimedMark {
  t: number;
  what: string;
}

function nameOfAddress(address: string): string {
  return HOSTS.find((h) => h.address === address)?.name ?? address;
}

export class Lab {
  readonly topology: Topology;
  readonly t0 = monoMs();
  readonly workDir: string;
  readonly configs: Map<string, DirectorConfig>;
  readonly requestEveryMs: number;
  readonly requestTimeoutMs: number;
  /** Every sample of the client's request loop and of the long connection. */
  readonly samples: RequestSample[] = [];
  readonly longSamples: RequestSample[] = [];
  readonly longNotices: ClientNotice[] = [];
  /** Kernel observations: VIP on a director, real servers in a director's rotation, the client's ARP entry for the VIP. */
  readonly vipEvents: { t: number; director: string; added: boolean }[] = [];
  readonly rotationEvents: { t: number; director: string; rotation: string[] }[] = [];
  readonly arpEvents: { t: number; mac: string; host: string }[] = [];

  private readonly print: (line: string) => void;
  private readonly procs = new ProcessSet();
  private readonly agents = new Map<string, LabProcess>();
  private readonly servers = new Map<string, LabProcess>();
  private client: LabProcess | undefined;
  private longConnection: LabProcess | undefined;
  private readonly watchers = new Map<string, RtnlWatcher>();
  private readonly rotation = new Map<string, string>();
  private arpMac = '';
  private ticker: NodeJS.Timeout | undefined;
  private readonly narration: ClientNarration;
  /** Set once the summary is out: teardown is not narrated. */
  quiet = false;

  constructor(options: LabSetupOptions = {}) {
    this.topology = new Topology(options.prefix ?? '');
    this.print = options.print ?? ((line) => process.stdout.write(`${line}\n`));
    this.workDir = mkdtempSync(join(tmpdir(), 'failoverd-lab-'));
    const needsCopies = options.advertInterval !== undefined || (options.prefix ?? '') !== '';
    const configs = directorConfigs(
      needsCopies
        ? {
            ...(options.advertInterval ? { advertInterval: options.advertInterval } : {}),
            ...(options.prefix ? { socketDir: this.workDir } : {}),
          }
        : {},
      join(this.workDir, 'config'),
    );
    this.configs = new Map(configs.map((c) => [c.name, c]));
    this.requestEveryMs = options.requestEveryMs ?? 50;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 300;
    this.narration = new ClientNarration((text, at) => this.say('client', text, at), Math.max(4 * this.requestEveryMs, 250));
  }

  get advertIntervalMs(): number {
    return this.configs.get('lvs-a')!.advertIntervalMs;
  }

  now(): number {
    return monoMs();
  }

  /** Seconds since the lab started, as the timeline shows them. */
  since(t: number): number {
    return (t - this.t0) / 1000;
  }

  say(who: string, text: string, at = monoMs()): void {
    if (this.quiet) return;
    this.print(timelineLine(at - this.t0, who, text));
  }

  heading(text: string): void {
    this.print('');
    this.print(`── ${text}`);
  }

  // ---- building ------------------------------------------------------------

  async build(): Promise<void> {
    this.topology.build();
    const hosts = [...this.topology.hosts.values()];
    this.say('lab', `namespaces on one bridge: ${hosts.map((h) => `${h.name} ${h.address}`).join(', ')}; VIP ${VIP}:${SERVICE_PORT}`);
    this.ticker = setInterval(() => this.poll(), POLL_MS);
    for (const rs of ['rs1', 'rs2']) {
      const out = sh(
        'ip',
        ['netns', 'exec', this.topology.host(rs).ns, process.execPath, CLI, 'realserver', 'setup', '--vip', VIP],
        60_000,
      );
      this.say(rs, `failoverd realserver setup --vip ${VIP}: ${out.trim().split('\n').at(-1)}`);
      await this.startRealServer(rs);
    }
    for (const d of ['lvs-a', 'lvs-b']) this.startDirector(d);
  }

  async startRealServer(name: string): Promise<void> {
    const host = this.topology.host(name);
    let ready!: () => void;
    const started = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const proc = this.procs.start(
      name,
      host.ns,
      [process.execPath, script('realserver-http'), '--name', name, '--address', host.address, '--port', String(SERVICE_PORT)],
      {
        stdout: (line) => {
          if (line.includes('"ready"')) ready();
        },
      },
    );
    this.servers.set(name, proc);
    await this.bounded(
      Promise.race([
        started,
        proc.exited.then(() => {
          throw new Error(`${name}'s HTTP server exited: ${proc.stderr.trim()}`);
        }),
      ]),
      20_000,
      `${name}'s HTTP server to listen`,
    );
    this.say(name, `HTTP server up on :${SERVICE_PORT} (pid ${proc.pid}), answers "hello from ${name}"`);
  }

  /** kill -9 a real server's HTTP server: its health check starts failing. */
  async killRealServer(name: string): Promise<number> {
    const proc = this.servers.get(name);
    if (!proc?.running) throw new Error(`${name}'s HTTP server is not running`);
    const at = monoMs();
    this.say(name, `HTTP server killed (kill -9 ${proc.pid})`, at);
    proc.kill('SIGKILL');
    await proc.exited;
    return at;
  }

  // ---- directors -----------------------------------------------------------

  startDirector(name: string): LabProcess {
    const host = this.topology.host(name);
    const config = this.configs.get(name)!;
    this.watchVip(name);
    const proc = this.procs.start(name, host.ns, [process.execPath, CLI, 'run', '--config', config.path, '--log-format', 'json'], {
      stderr: (line) => this.agentLog(name, line),
    });
    this.agents.set(name, proc);
    void proc.exited.then((info) => {
      if (info.signal === 'SIGKILL' || this.agents.get(name) !== proc) return;
      this.say(
        name,
        `failoverd exited (${info.code ?? info.signal}); last stderr:\n${proc.stderr.trim().split('\n').slice(-8).join('\n')}`,
      );
    });
    this.say(
      name,
      `failoverd run --config ${config.path} (pid ${proc.pid}, priority ${config.priority}, advert ${formatDuration(config.advertIntervalMs)})`,
    );
    return proc;
  }

  agent(name: string): LabProcess | undefined {
    return this.agents.get(name);
  }

  /**
   * The director dies: failoverd is killed with kill -9 and the machine goes dark
   * at once (its cable is cut, then its namespace deleted: VIP, IPVS table and
   * sync daemon go with it). Returns when the cable was cut: from then on nothing
   * reaches lvs-a's kernel.
   */
  async crashDirector(name: string): Promise<number> {
    const proc = this.agents.get(name);
    if (!proc?.running) throw new Error(`failoverd on ${name} is not running`);
    proc.kill('SIGKILL');
    this.topology.cutCable(name);
    const at = monoMs();
    this.say(name, `crash: kill -9 ${proc.pid} (failoverd) and power cut — its VIP, IPVS table and sync daemon are gone`, at);
    this.unwatchVip(name);
    await proc.exited;
    this.topology.powerOff(name);
    this.rotation.delete(name);
    return at;
  }

  /** Boots a crashed director again: fresh namespace, failoverd started. */
  bootDirector(name: string): number {
    const at = monoMs();
    this.topology.powerOn(name);
    this.say(name, 'powered on again (fresh network namespace)', at);
    this.startDirector(name);
    return at;
  }

  /**
   * Narrates failoverd's own account of its transitions from its JSON log. Log
   * shapes are not an interface, so this is lenient: an event type (the bus's
   * object or the health monitor's string) or a VRRP state change, else nothing.
   */
  private agentLog(director: string, line: string): void {
    if (!line.startsWith('{')) return;
    let entry: {
      level?: number;
      msg?: string;
      event?: string | { type?: string };
      instance?: string;
      from?: string;
      to?: string;
      err?: { message?: string };
    };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    const type =
      typeof entry.event === 'string' ? entry.event : (entry.event?.type ?? (entry.instance && entry.from && entry.to ? 'vrrp.state' : ''));
    if (/^(vrrp\.state|realserver\.(up|down)|quorum\.|ipvs\.error|config\.rejected)/.test(type))
      this.say(director, `failoverd: ${entry.msg}`);
    else if ((entry.level ?? 0) >= 50)
      this.say(
        director,
        `failoverd ${entry.level! >= 60 ? 'FATAL' : 'ERROR'}: ${entry.msg}${entry.err?.message && !entry.msg?.includes(entry.err.message) ? ` (${entry.err.message})` : ''}`,
      );
  }

  private watchVip(name: string): void {
    this.unwatchVip(name);
    const watcher = new RtnlWatcher({ netns: this.topology.nsPath(name) });
    watcher.on('change', (c) => {
      if (c.kind !== 'address' || c.address.address !== VIP) return;
      const t = monoMs();
      this.vipEvents.push({ t, director: name, added: c.action === 'new' });
      this.say(name, `kernel: VIP ${VIP} ${c.action === 'new' ? 'added to' : 'removed from'} eth0`, t);
    });
    watcher.on('error', (err) => this.say(name, `address watcher: ${err.message}`));
    this.watchers.set(name, watcher);
  }

  private unwatchVip(name: string): void {
    this.watchers.get(name)?.close();
    this.watchers.delete(name);
  }

  /** Which directors hold the VIP now (kernel view). */
  vipHolders(): string[] {
    const held = new Map<string, boolean>();
    for (const e of this.vipEvents) held.set(e.director, e.added);
    return [...held].filter(([d, on]) => on && this.topology.host(d).poweredOn).map(([d]) => d);
  }

  /** Real servers with weight > 0 in a director's kernel IPVS table for the VIP. */
  rotationOf(director: string): string[] {
    return (this.rotation.get(director) ?? '').split(' ').filter(Boolean);
  }

  /** The IPVS connection entries a director's kernel holds (e.g. synced from the master). */
  connectionsOf(director: string): ProcIpvsConnection[] {
    const proc = this.agents.get(director);
    const text = proc?.running ? readProcNet(proc.pid, 'ip_vs_conn') : undefined;
    return text ? parseProcIpvsConn(text) : [];
  }

  /** The client's ARP cache entry for the VIP, as host name ("lvs-a"). */
  clientArpHost(): string {
    return this.topology.hostByMac(this.arpMac) ?? (this.arpMac || 'none');
  }

  private poll(): void {
    for (const [director, proc] of this.agents) {
      if (!proc.running || !this.topology.host(director).poweredOn) continue;
      const text = readProcNet(proc.pid, 'ip_vs');
      if (text === undefined) continue;
      const svc = parseProcIpvs(text).find((s) => s.address === VIP && s.port === SERVICE_PORT);
      const inRotation = (svc?.destinations ?? [])
        .filter((d) => d.weight > 0)
        .map((d) => nameOfAddress(d.address))
        .sort();
      const key = inRotation.join(' ');
      if (this.rotation.get(director) === key && this.rotation.has(director)) continue;
      const before = this.rotation.get(director);
      this.rotation.set(director, key);
      if (before === undefined && key === '') continue;
      const t = monoMs();
      this.rotationEvents.push({ t, director, rotation: inRotation });
      const all = (svc?.destinations ?? []).map((d) => `${nameOfAddress(d.address)} w${d.weight}`).join(', ');
      this.say(director, `kernel: IPVS ${VIP}:${SERVICE_PORT} ${svc ? `${svc.scheduler} → ${all || 'no real servers'}` : 'no service'}`, t);
    }
    this.narration.tick(monoMs());
    if (this.client?.running) {
      const text = readProcNet(this.client.pid, 'arp');
      if (text === undefined) return;
      const entry = text ? parseProcArp(text).find((e) => e.address === VIP && e.complete) : undefined;
      const mac = entry?.mac ?? '';
      if (mac !== this.arpMac) {
        this.arpMac = mac;
        const t = monoMs();
        const host = this.topology.hostByMac(mac) ?? (mac || 'none');
        this.arpEvents.push({ t, mac, host });
        this.say('client', mac ? `ARP cache: ${VIP} is at ${mac} (${host})` : `ARP cache: no entry for ${VIP}`, t);
      }
    }
  }

  // ---- the client ----------------------------------------------------------

  async startClient(): Promise<void> {
    const host = this.topology.host('client');
    this.client = this.procs.start(
      'client',
      host.ns,
      [
        process.execPath,
        script('client-loop'),
        '--url',
        `http://${VIP}:${SERVICE_PORT}/`,
        '--every',
        String(this.requestEveryMs),
        '--timeout',
        String(this.requestTimeoutMs),
      ],
      {
        stdout: (line) => {
          const parsed = parseClientLine(line);
          if (parsed && isSample(parsed)) this.onRequest(parsed);
        },
      },
    );
    this.say(
      'client',
      `request loop started (pid ${this.client.pid}): GET http://${VIP}/ every ${this.requestEveryMs} ms, new connection each, ${this.requestTimeoutMs} ms timeout`,
    );
  }

  async stopClient(): Promise<void> {
    await this.client?.stop();
  }

  private onRequest(s: RequestSample): void {
    this.samples.push(s);
    this.narration.add(s);
  }

  /** Opens the long-lived connection; resolves once it has had its first answer. */
  async openLongConnection(everyMs = 200): Promise<RequestSample> {
    const host = this.topology.host('client');
    this.longConnection = this.procs.start(
      'long',
      host.ns,
      [process.execPath, script('long-connection'), '--host', VIP, '--port', String(SERVICE_PORT), '--every', String(everyMs)],
      {
        stdout: (line) => {
          const parsed = parseClientLine(line);
          if (!parsed) return;
          if (isSample(parsed)) this.longSamples.push(parsed);
          else {
            this.longNotices.push(parsed);
            if (parsed.kind === 'closed') this.say('client', `long connection :${parsed.localPort} broke: ${parsed.error}`, parsed.t);
          }
        },
      },
    );
    const first = await this.waitFor(() => this.longSamples.find((s) => s.ok), 15_000, "the long connection's first answer");
    this.say(
      'client',
      `long connection opened from :${first.localPort}: a keep-alive request every ${everyMs} ms on the same TCP connection, answered by ${first.who}`,
      first.done,
    );
    return first;
  }

  async closeLongConnection(): Promise<void> {
    await this.longConnection?.stop();
  }

  // ---- waiting ---------------------------------------------------------------

  /** Polls until probe() returns something truthy; rejects after timeoutMs naming what it waited for. */
  async waitFor<T>(probe: () => T | undefined | false | null, timeoutMs: number, what: string): Promise<T> {
    const deadline = monoMs() + timeoutMs;
    for (let i = 0; i < 1_000_000; i++) {
      const value = probe();
      if (value) return value;
      if (monoMs() > deadline)
        throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}${this.agentTrouble()}`);
      await sleep(POLL_MS);
    }
    throw new Error(`gave up waiting for ${what}`);
  }

  private agentTrouble(): string {
    const dead = [...this.agents].filter(([d, p]) => !p.running && p.exit?.signal !== 'SIGKILL' && this.topology.host(d).poweredOn);
    return dead
      .map(
        ([d, p]) => `\nfailoverd on ${d} exited (${p.exit?.code ?? p.exit?.signal}):\n${p.stderr.trim().split('\n').slice(-10).join('\n')}`,
      )
      .join('');
  }

  private async bounded<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)), timeoutMs);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- teardown ----------------------------------------------------------------

  async destroy(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    for (const name of [...this.watchers.keys()]) this.unwatchVip(name);
    await this.procs.stopAll();
    this.topology.destroy();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
