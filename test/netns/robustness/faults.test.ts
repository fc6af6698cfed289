// Faults the agent must survive, on the host kernel: its VRRP interface going
// down and up (FAULT, VIPs removed; back to MASTER, VIPs re-added and
// announced); its config file replaced on reload by a directory, a FIFO, binary
// garbage and invalid UTF-8 (each reload rejected, the agent keeps running and
// still reloads a good file afterwards); an HTTPS real server that answers the
// TLS ClientHello with garbage (the check fails with a reason, in bounded time).
//
// Covered elsewhere, not repeated here:
//   - a webhook endpoint (and a notify program) that hangs does not delay a real takeover:
//     test/netns/robustness/hanging-alerts.test.ts; the queue side in test/unit/alerts/webhooks.test.ts
//   - a check target that accepts and never answers: test/netns/checks/checks.test.ts
//     ("a server that hangs after accept: tcp connect passes, http times out at the timeout")
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../vrrp/lab.js';

import { loadCheckPlugins } from '../../../checks/index.js';
import { closeHttpAgents } from '../../../checks/lib/http-probe.js';
import { AgentProcess } from './agent-process.js';
import { sh } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';

const work = mkdtempSync(join(tmpdir(), 'failoverd-faults-'));
const lab = new Lab('ft');
let agent: AgentProcess | undefined;
after(async () => {
  await agent?.stop();
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const socket = join(work, 'api.sock');
const configPath = join(work, 'failoverd.yaml');
const VIPS = ['10.6.2.195', '10.6.2.199'];

function config(priority: number): string {
  return `node: { name: faults }
vrrp:
  - name: web
    interface: eth0
    vrid: 61
    priority: ${priority}
    advert_interval: 100ms
    vips: [${VIPS.map((v) => `${v}/32`).join(', ')}]
    garp: { count: 2, interval: 50ms }
services: []
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`;
}

type StateEvent = { type: string; from?: string; to?: string };
const stateEvents = (a: AgentProcess): StateEvent[] =>
  a.logs.map((l) => l['event'] as StateEvent | undefined).filter((e): e is StateEvent => e?.type === 'vrrp.state');
const state = async (a: AgentProcess): Promise<string> => (await a.states())['web'] ?? '?';

test('the agent in a namespace: interface down/up, and reloads of unreadable config files', async (t) => {
  lab.setup([{ name: 'dir', ipv4: '192.0.2.20' }]);
  const observer = await lab.observe();
  writeFileSync(configPath, config(150));
  agent = AgentProcess.start(lab.node('dir').ns, configPath, socket);
  const a = agent;
  await a.waitForState('web', 'MASTER', 15_000, 100);
  await waitFor(() => VIPS.every((v) => lab.addresses('dir').includes(v)), { what: 'both VIPs on eth0', timeoutMs: 5000 });

  await t.test('interface down → FAULT with the VIPs removed; up → MASTER with the VIPs re-added and announced', async () => {
    const eventsBefore = stateEvents(a).length;
    const downAt = Date.now();
    sh(['ip', '-n', lab.node('dir').ns, 'link', 'set', 'eth0', 'down']);
    await waitFor(async () => (await state(a)) === 'FAULT', { what: 'FAULT after the link went down', timeoutMs: 5000, stepMs: 20 });
    const faultMs = Date.now() - downAt;
    await waitFor(() => VIPs().length === 0, { what: 'the VIPs removed', timeoutMs: 3000 });
    // While down it stays in FAULT: no flapping, nothing sent.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await state(a), 'FAULT');
    const announcementsBefore = observer.announcements().length;
    const upAt = Date.now();
    sh(['ip', '-n', lab.node('dir').ns, 'link', 'set', 'eth0', 'up']);
    await waitFor(async () => (await state(a)) === 'MASTER', { what: 'MASTER after the link came back', timeoutMs: 5000, stepMs: 20 });
    const masterMs = Date.now() - upAt;
    await waitFor(() => VIPs().length === VIPS.length, { what: 'the VIPs re-added', timeoutMs: 3000 });
    await waitFor(
      () =>
        observer
          .announcements()
          .slice(announcementsBefore)
          .some((e) => e.address === VIPS[0]),
      { what: 'gratuitous ARP for the VIP after coming back', timeoutMs: 3000 },
    );
    // The log is written asynchronously: a transition's line may land after the status
    // API already reported it, so wait for the last one and read from the link-down on.
    const backToMasterLogged = (): boolean => {
      const events = stateEvents(a);
      const fault = events.findIndex((e, i) => i >= Math.max(0, eventsBefore - 1) && e.from === 'master' && e.to === 'fault');
      return fault >= 0 && events.slice(fault + 1).some((e) => e.to === 'master');
    };
    await waitFor(backToMasterLogged, { what: 'the transition back to MASTER in the log', timeoutMs: 3000 });
    const all = stateEvents(a).map((e) => `${e.from}→${e.to}`);
    const firstFault = all.indexOf('master→fault', Math.max(0, eventsBefore - 1));
    const seq = firstFault < 0 ? all.slice(eventsBefore) : all.slice(firstFault);
    assert.equal(seq[0], 'master→fault', `first transition: ${seq.join(', ')}`);
    assert.equal(seq.at(-1)?.endsWith('→master'), true, `ends MASTER: ${seq.join(', ')}`);
    assert.equal(seq.filter((s) => s.endsWith('→fault')).length, 1, `one FAULT only: ${seq.join(', ')}`);
    t.diagnostic(`link down → FAULT in ${faultMs} ms; link up → MASTER in ${masterMs} ms; transitions ${seq.join(', ')}`);
  });

  await t.test(
    'reload with the config replaced by a directory, a FIFO, binary garbage, invalid UTF-8: rejected, still running; then a good file applies',
    async () => {
      const generation = async (): Promise<number> => (await a.status()).config?.generation ?? 0;
      assert.equal(await generation(), 1);
      const replacements: [string, () => void][] = [
        [
          'a directory',
          () => {
            rmSync(configPath, { force: true });
            mkdirSync(configPath);
          },
        ],
        [
          'a FIFO nobody writes to',
          () => {
            rmSync(configPath, { recursive: true, force: true });
            sh(['mkfifo', configPath]);
          },
        ],
        [
          'binary garbage',
          () => {
            rmSync(configPath, { recursive: true, force: true });
            writeFileSync(configPath, randomBytes(4096));
          },
        ],
        [
          'invalid UTF-8 around a valid config',
          () => {
            writeFileSync(configPath, Buffer.concat([Buffer.from(config(140)), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x0a])]));
          },
        ],
        [
          'an empty file',
          () => {
            writeFileSync(configPath, '');
          },
        ],
      ];
      for (const [what, replace] of replacements) {
        const rejectedBefore = a.logs.filter((l) => String(l['msg']).includes('configuration rejected')).length;
        replace();
        a.kill('SIGHUP');
        await waitFor(() => a.logs.filter((l) => String(l['msg']).includes('configuration rejected')).length > rejectedBefore, {
          what: `the reload with ${what} rejected`,
          timeoutMs: 5000,
          stepMs: 20,
        });
        assert.ok(a.running, `still running after ${what}`);
        assert.equal(await generation(), 1, `${what}: the running config stays`);
        assert.equal(await state(a), 'MASTER', `${what}: still MASTER`);
      }
      rmSync(configPath, { recursive: true, force: true });
      writeFileSync(configPath, config(140));
      a.kill('SIGHUP');
      await waitFor(async () => (await generation()) === 2, {
        what: 'a good config applies after the bad ones',
        timeoutMs: 5000,
        stepMs: 20,
      });
      assert.equal((await a.status()).instances[0]!.priority, 140);
      assert.equal(await state(a), 'MASTER');
    },
  );

  function VIPs(): string[] {
    return lab.addresses('dir').filter((x) => VIPS.includes(x));
  }
});

test('https check against a server that answers the ClientHello with garbage: fails with a reason, in bounded time, no crash', async (t) => {
  const plugins = await loadCheckPlugins();
  const https = plugins.get('https');
  assert.ok(https, 'the https check plugin exists');
  const behaviours: Record<string, (s: Socket) => void> = {
    'random bytes, then close': (s) => {
      s.once('data', () => s.end(randomBytes(512)));
    },
    'random bytes forever': (s) => {
      const timer = setInterval(() => s.write(randomBytes(1024)), 5);
      s.on('close', () => clearInterval(timer));
    },
    'a TLS record header claiming 16 KiB, then silence': (s) => {
      s.once('data', () => s.write(Buffer.from([0x16, 0x03, 0x03, 0x40, 0x00, 0x02])));
    },
    'an HTTP answer instead of TLS': (s) => {
      s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    },
    'a reset at once': (s) => {
      s.resetAndDestroy();
    },
  };
  const servers: Server[] = [];
  t.after(async () => {
    for (const s of servers) s.close();
    await closeHttpAgents();
  });
  for (const [what, behave] of Object.entries(behaviours)) {
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
      behave(s);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const options = https.options.parse({ tls_verify: false });
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('timeout after 1000ms')), 1000);
    // Settled by its abort at the 1 s timeout: the run must end well before a generous late mark.
    let late: NodeJS.Timeout | undefined;
    const result: Awaited<ReturnType<typeof https.run>> = await Promise.race([
      https.run({ service: 'web-443', address: '127.0.0.1', port }, options, controller.signal),
      new Promise<never>((_, reject) => {
        late = setTimeout(() => reject(new Error(`${what}: still running 10 s after its 1 s timeout`)), 11_000);
      }),
    ]);
    clearTimeout(late);
    clearTimeout(timer);
    for (const s of sockets) s.destroy();
    assert.equal(result.ok, false, `${what}: the check fails`);
    assert.ok(
      result.reason.length > 0 && result.reason.length < 100 && !result.reason.includes('\n'),
      `${what}: a short one-line reason (${JSON.stringify(result.reason)})`,
    );
    if (what.includes('TLS') || what.includes('random') || what.includes('HTTP'))
      assert.match(result.reason, /TLS|timeout/, `${what}: the reason says it is TLS that failed`);
    t.diagnostic(`${what}: "${result.reason}"`);
  }
});
