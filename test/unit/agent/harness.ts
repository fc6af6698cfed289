// The agent with its I/O replaced by in-memory twins: a MemoryIpvsTable, a fake VRRP
// segment (adverts captured on a wire, peers that are real VrrpInstances), a fake API
// that records what it was asked to listen on, a systemd recorder and a FakeClock.
// The config is a real file: reload reads it again, as on SIGHUP.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { z } from 'zod';
import { Agent, type AgentOptions } from '../../../src/agent.js';
import type { ApiListener, SystemdNotifier } from '../../../src/agent/io.js';
import type { ApiConfig } from '../../../src/api/server.js';
import { FakeClock } from '../../../src/clock.js';
import type { CheckPlugin } from '../../../src/health/check.js';
import type { AgentEvent } from '../../../src/events.js';
import { MemoryIpvsTable } from '../../../src/ipvs/memory-table.js';
import type { Logger } from '../../../src/log.js';
import { vrrpInstanceConfig, type VrrpInstanceInput } from '../../../src/vrrp/config.js';
import { VrrpInstance } from '../../../src/vrrp/instance.js';
import { decodeAdvert } from '../../../src/vrrp/packet.js';
import { fakePlugins } from '../config/fake-plugins.js';
import { FakeHost, FakeSegment, fakeIo } from '../vrrp/fake-io.js';
import { turns } from '../../helpers/wait.js';

/** The config tests' fake checks, plus `down`: a check that always fails (a real server that never answers). */
export const testPlugins: ReadonlyMap<string, CheckPlugin> = new Map([
  ...fakePlugins,
  [
    'down',
    {
      type: 'down',
      description: 'always fails',
      options: z.object({}).strict(),
      run: async () => ({ ok: false, reason: 'refused', latencyMs: 0 }),
    },
  ],
]);

export const AGENT_ADDRESS = '192.0.2.1';
export const PEER_ADDRESS = '192.0.2.2';

/** Turns of the event loop a step lets run: a reconciler pass takes three (its start, its diff, its apply). */
const FLUSH_TURNS = 4;

const flush = (): Promise<void> => turns(FLUSH_TURNS);

/** The agent's options with every piece of I/O replaced; what each twin saw is kept for the test. */
export function testAgentOptions(configPath: string, clock = new FakeClock()) {
  const segment = new FakeSegment(clock);
  const host = new FakeHost();
  host.addLink('eth0', 2, '02:00:00:00:00:01', [{ address: AGENT_ADDRESS, prefixLength: 24 }]);
  const table = new MemoryIpvsTable();
  const notes: string[] = [];
  const systemd: SystemdNotifier = {
    ready: (status) => {
      notes.push(`READY ${status}`);
    },
    reloading: (status) => {
      notes.push(`RELOADING ${status}`);
    },
    stopping: (status) => {
      notes.push(`STOPPING ${status}`);
    },
    startWatchdog: () => undefined,
  };
  /** Socket paths the API listens on now, and socket paths whose listen fails (a missing directory). */
  const api = { listening: new Set<string>(), failing: new Set<string>(), opened: [] as ApiConfig[] };
  const openApi = (config: ApiConfig): ApiListener => {
    const socket = String(config.socket);
    return {
      start: async () => {
        api.opened.push(config);
        if (api.failing.has(socket)) throw Object.assign(new Error(`listen EACCES: ${socket}`), { code: 'EACCES' });
        api.listening.add(socket);
      },
      stop: async () => {
        api.listening.delete(socket);
      },
    };
  };
  const logs: { level: number; msg: string }[] = [];
  const logger: Logger = pino(
    { level: 'debug' },
    {
      write: (line: string) => {
        logs.push(JSON.parse(line) as { level: number; msg: string });
      },
    },
  );
  const options: AgentOptions = {
    configPath,
    logger,
    clock,
    plugins: testPlugins,
    hostname: 'testhost',
    openIpvsTable: async () => table,
    openVrrpIo: () => ({ ...fakeIo(segment, host), close: () => undefined }),
    openApi,
    systemd,
    env: {},
    auditIntervalMs: 60_000,
  };
  return { options, clock, segment, host, table, notes, api, logs };
}

export type TestRig = Awaited<ReturnType<typeof startAgent>>;

/** Writes the config, creates and starts the agent; `t.after` stops it and removes the directory. */
export async function startAgent(
  t: { after(fn: () => Promise<void> | void): void },
  yaml: string,
  /** Runs before the agent starts: what a previous agent or the operator left in the kernel. */
  prepare?: (rig: ReturnType<typeof testAgentOptions>) => Promise<void>,
) {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-agent-unit-'));
  const configPath = join(dir, 'failoverd.yaml');
  writeFileSync(configPath, yaml);
  const rig = testAgentOptions(configPath);
  const agent = await Agent.create(rig.options);
  const events: AgentEvent[] = [];
  agent.bus.subscribe('*', (e) => events.push(e));
  const peers: VrrpInstance[] = [];
  t.after(async () => {
    for (const p of peers) await p.stop();
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await prepare?.(rig);
  await agent.start();

  /** Advances the fake clock in steps, letting promises (VIP changes, table writes) settle between. */
  const run = async (ms: number, stepMs = 10): Promise<void> => {
    for (let elapsed = 0; elapsed < ms; elapsed += stepMs) {
      rig.clock.advance(Math.min(stepMs, ms - elapsed));
      await flush();
    }
  };

  /** Another director on the segment: a real VrrpInstance on its own host. */
  const peer = async (over: Partial<VrrpInstanceInput> = {}): Promise<{ instance: VrrpInstance; host: FakeHost }> => {
    const host = new FakeHost();
    host.addLink('eth0', 2, '02:00:00:00:00:02', [{ address: PEER_ADDRESS, prefixLength: 24 }]);
    const instance = new VrrpInstance(
      vrrpInstanceConfig({
        name: 'web',
        interface: 'eth0',
        vrid: 51,
        priority: 100,
        version: 3,
        advertIntervalMs: 100,
        vips: ['10.6.2.195/32'],
        garp: { count: 1, intervalMs: 100, refreshMs: 0, delayMs: 0 },
        ...over,
      }),
      { io: fakeIo(rig.segment, host), clock: rig.clock },
    );
    peers.push(instance);
    await instance.start();
    return { instance, host };
  };

  /** The priorities in the adverts `from` sent, oldest first. */
  const advertPriorities = (from = AGENT_ADDRESS): number[] =>
    rig.segment.wire
      .filter((w) => w.from === from)
      .map((w) => {
        const decoded = decodeAdvert(w.payload, { family: 4, source: w.from, destination: w.destination });
        assert.ok(decoded.ok, 'a well-formed advert on the wire');
        return decoded.value.priority;
      });

  const rewrite = (text: string): void => writeFileSync(configPath, text);
  return { ...rig, agent, events, run, peer, advertPriorities, rewrite, dir, configPath };
}

/** A config with one instance `web` (vrid 51, 100 ms adverts) and whatever else the test adds. */
export function configText(o: { priority?: number; preempt?: boolean; vrrpExtra?: string; rest?: string; socket?: string } = {}): string {
  return `node: { name: lvs-a }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    priority: ${o.priority ?? 150}
    advert_interval: 100ms
    preempt: ${o.preempt ?? true}
    vips: [10.6.2.195/32]
    garp: { count: 1, delay: 0s }
${o.vrrpExtra ?? ''}${o.rest ?? 'services: []\n'}api: { listen: ${o.socket ?? '/run/failoverd-test/api.sock'}, metrics: false }
health: { checks_thread: main }
`;
}
