// The migration, on the wire: director A keeps running keepalived 2.2.x with its own
// keepalived.conf, director B runs `failoverd run` with the config that
// `failoverd import-keepalived` made from B's keepalived.conf. First, B's original
// config runs under keepalived alone to record the adverts B sent before the
// migration; failoverd on B must then send the same ones (VRID, priority, interval,
// auth, addresses). With both up: one master at a time, takeover by kill -9 and by a
// graceful stop, preemption back. The vrrp_strict + auth_pass case is keepalived's
// own default config: keepalived ignores the password there, so must the import.
// B's config has keepalived's generic `notify` on every instance and sync group: B
// alone under keepalived, then alone under failoverd (start, MASTER, graceful stop),
// must run it with the same arguments in the same order, object by object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canRunNetns, Lab, longestDualMasterMs, tcpdump, type RouterProcess, type Observer } from '../vrrp/lab.js';
import { advertRuns, mastersOnTheWire } from '../vrrp/masters.js';
import { AgentProcess, CLI } from '../robustness/agent-process.js';
import { sh } from '../../helpers/shell.js';
import { waitFor } from '../../helpers/wait.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/keepalived/interop/', import.meta.url));
const skip = canRunNetns() ?? (spawnSync('keepalived', ['--version']).status === 0 ? undefined : 'keepalived is not installed');

interface Case {
  name: string;
  file: string;
  intervalMs: number;
  instances: Array<{ name: string; vrid: number }>;
  /** Which director has the higher priority (the one that is master when both run). */
  high: 'a' | 'b';
  /** A tracked interface made on both directors; taking it down on the master hands over every instance. */
  tracked?: string;
  unicast?: boolean;
}

const CASES: Case[] = [
  { name: 'VRRPv2 with PASS authentication', file: 'v2-pass', intervalMs: 1000, instances: [{ name: 'VI_WEB', vrid: 51 }], high: 'a' },
  {
    name: 'VRRPv3 with unicast peers',
    file: 'v3-unicast',
    intervalMs: 500,
    instances: [{ name: 'VI_WEB', vrid: 52 }],
    high: 'a',
    unicast: true,
  },
  {
    name: "vrrp_strict with auth_pass (keepalived's default config)",
    file: 'strict-auth',
    intervalMs: 1000,
    instances: [{ name: 'VI_WEB', vrid: 51 }],
    high: 'b',
  },
  {
    name: 'a sync group with a tracked interface',
    file: 'sync-track',
    intervalMs: 1000,
    high: 'a',
    tracked: 'uplink0',
    instances: [
      { name: 'VI_WEB', vrid: 61 },
      { name: 'VI_MAIL', vrid: 62 },
    ],
  },
];

/** What an advert says, as tcpdump -v prints it, without the sender's address. */
interface Advert {
  t: number;
  source: string;
  vrid: number;
  priority: number;
  says: string;
}

/** A verbose tcpdump beside the lab's observer: the lab's records priorities, this one auth and addresses too. */
class AdvertRecorder {
  readonly adverts: Advert[] = [];
  private proc: ChildProcess | undefined;

  static async start(ns: string): Promise<AdvertRecorder> {
    const recorder = new AdvertRecorder();
    // -v prints the IP header on one line and the VRRP part on the next.
    let pending: { t: number } | undefined;
    recorder.proc = await tcpdump(ns, ['-v', '-U', 'ip proto 112'], (line) => {
      const head = /^(\d+\.\d+) IP /.exec(line);
      if (head) {
        pending = { t: Number(head[1]) * 1000 };
        return;
      }
      const m = /^\s*(\S+) > \S+: (VRRPv\d), Advertisement, vrid (\d+), prio (\d+), (.*)$/.exec(line);
      if (m && pending) {
        // The rest: authtype, interval, length, addrs and the password as tcpdump shows them.
        recorder.adverts.push({ t: pending.t, source: m[1]!, vrid: Number(m[3]), priority: Number(m[4]), says: `${m[2]} ${m[5]}` });
        pending = undefined;
      }
    });
    return recorder;
  }

  /** Distinct "vrid prio what-it-says" of one sender's live adverts in [from, to). */
  signatures(source: string, from: number, to = Infinity): string[] {
    return [
      ...new Set(
        this.adverts
          .filter((a) => a.source === source && a.priority > 0 && a.t >= from && a.t < to)
          .map((a) => `vrid ${a.vrid} prio ${a.priority} ${a.says}`),
      ),
    ].sort();
  }

  stop(): void {
    if (this.proc?.exitCode === null && this.proc.pid) process.kill(this.proc.pid, 'SIGTERM');
  }
}

function keepalivedState(r: RouterProcess, instance: string): string | undefined {
  return r.events.filter((e) => e.event === 'state' && e.instance === instance).at(-1)?.to;
}

async function stopKeepalived(lab: Lab, r: RouterProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (signal === 'SIGKILL') {
    // kill -9 hits the VRRP child, the one sending adverts; then the parent, which would restart it.
    const child = lab.keepalivedVrrpPid(r);
    if (child) process.kill(child, 'SIGKILL');
    r.kill('SIGKILL');
  } else r.kill('SIGTERM');
  await Promise.race([r.exited, new Promise((ok) => setTimeout(ok, 10_000))]);
}

/** B's imported config, exactly as an operator makes it, plus where its API listens. */
function importFor(lab: Lab, c: Case, conf: string): string {
  const out = join(lab.work, `${c.file}-b.yaml`);
  const r = spawnSync(process.execPath, [CLI, 'import-keepalived', conf, '--output', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, `the import of ${c.file}-b.conf exits 0: ${r.stderr}`);
  writeFileSync(
    out,
    `${readFileSync(out, 'utf8')}api:\n  listen: ${join(lab.work, 'b.sock')}\n  metrics: false\nlogging:\n  format: json\n`,
  );
  return out;
}

/**
 * A notify script that logs its arguments, and B's keepalived.conf with it as the generic
 * `notify` of every instance and sync group (one script per implementation, one log each).
 */
function withNotify(lab: Lab, c: Case, implementation: 'keepalived' | 'failoverd'): { conf: string; log: string } {
  const dir = join(lab.work, 'notify');
  mkdirSync(dir, { recursive: true, mode: 0o755 }); // not writable by others: keepalived's enable_script_security refuses such a path
  const log = join(dir, `${implementation}.log`);
  writeFileSync(log, '');
  chmodSync(log, 0o666); // notify programs may run as an unprivileged user
  const script = join(dir, `${implementation}.sh`);
  writeFileSync(script, `#!/bin/sh\necho "$@" >> ${log}\n`, { mode: 0o755 });
  const conf = join(lab.work, `${c.file}-b-${implementation}.conf`);
  const text = readFileSync(`${fixtures}${c.file}-b.conf`, 'utf8').replace(
    /^((?:vrrp_instance|vrrp_sync_group) \S+ \{)$/gm,
    `$1\n    notify ${script}`,
  );
  writeFileSync(conf, text);
  return { conf, log };
}

/** The notify log's lines grouped by object ("INSTANCE VI_WEB", "GROUP VG_1"), each in its order: scripts of different objects run concurrently. */
function notifiesByObject(log: string): Record<string, string[]> {
  const byObject: Record<string, string[]> = {};
  const lines = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
  for (const line of lines) (byObject[line.split(' ').slice(0, 2).join(' ')] ??= []).push(line);
  return byObject;
}

for (const c of CASES) {
  test(`migration interop, ${c.name}: keepalived on A, the imported config under failoverd on B`, { skip, timeout: 120_000 }, async () => {
    const lab = new Lab(`ki${CASES.indexOf(c)}`);
    const A = '192.0.2.1';
    const B = '192.0.2.2';
    let agent: AgentProcess | undefined;
    let recorder: AdvertRecorder | undefined;
    const downMs = 4 * c.intervalMs + 3000; // master-down interval, skew and a process start on a busy machine
    const timings: Record<string, number> = {};
    try {
      lab.setup([
        { name: 'a', ipv4: A },
        { name: 'b', ipv4: B },
      ]);
      // Flood every frame to every port, so the observer also sees unicast adverts.
      if (c.unicast) sh(['ip', '-n', lab.bridgeNs, 'link', 'set', 'br0', 'type', 'bridge', 'ageing_time', '0']);
      if (c.tracked) {
        for (const n of ['a', 'b']) {
          // A veth pair inside the namespace (this kernel has no dummy driver).
          sh(['ip', '-n', lab.node(n).ns, 'link', 'add', c.tracked, 'type', 'veth', 'peer', 'name', `${c.tracked}p`]);
          for (const dev of [c.tracked, `${c.tracked}p`]) sh(['ip', '-n', lab.node(n).ns, 'link', 'set', dev, 'up']);
        }
      }
      const observer: Observer = await lab.observe();
      recorder = await AdvertRecorder.start(lab.observerNs);
      const notifyK = withNotify(lab, c, 'keepalived');
      const notifyF = withNotify(lab, c, 'failoverd');
      const yaml = importFor(lab, c, notifyF.conf);

      // 0. Before the migration: B's own keepalived.conf under keepalived, alone. Its adverts are the reference.
      const referenceFrom = Date.now();
      const reference = lab.keepalivedWith('b', notifyK.conf);
      await waitFor(
        () => c.instances.every((i) => recorder!.adverts.filter((a) => a.source === B && a.vrid === i.vrid && a.priority > 0).length >= 2),
        { what: 'keepalived on B sends adverts', timeoutMs: downMs + 4000, stepMs: 50 },
      );
      await stopKeepalived(lab, reference, 'SIGTERM');
      const referenceTo = Date.now();
      const before = recorder.signatures(B, referenceFrom, referenceTo);
      assert.equal(before.length, c.instances.length, `one kind of advert per instance from keepalived on B: ${before.join(' | ')}`);
      const objects = c.instances.length + (c.tracked ? 1 : 0); // the sync-group case has one group
      const stopped = (log: string) => () => {
        const byObject = Object.values(notifiesByObject(log));
        return byObject.length === objects && byObject.every((lines) => / STOP /.test(lines.at(-1) ?? ''));
      };
      await waitFor(stopped(notifyK.log), { what: "keepalived's STOP notifies", timeoutMs: 10_000, stepMs: 50 });

      // 0b. The same under failoverd: B's imported config alone, until MASTER, then a graceful stop.
      agent = AgentProcess.start(lab.node('b').ns, yaml, join(lab.work, 'b.sock'), {}, 'info');
      await waitFor(
        async () => {
          const states = await agent!.states().catch((): Record<string, string> => ({}));
          return c.instances.every((i) => states[i.name] === 'MASTER');
        },
        { what: 'failoverd alone on B: every instance MASTER', timeoutMs: downMs + 15_000, stepMs: 50 },
      );
      await agent.stop();
      agent = undefined;
      await waitFor(stopped(notifyF.log), { what: "failoverd's STOP notifies", timeoutMs: 10_000, stepMs: 50 });
      assert.deepEqual(
        notifiesByObject(notifyF.log),
        notifiesByObject(notifyK.log),
        'B runs its notify script with the same arguments, in the same order, under failoverd as under keepalived',
      );

      const masterOf = async (): Promise<{ a: string[]; b: string[] }> => {
        const states = agent?.running ? await agent.states().catch((): Record<string, string> => ({})) : {};
        return {
          a: c.instances.filter((i) => k && k.proc.exitCode === null && keepalivedState(k, i.name) === 'master').map((i) => i.name),
          b: c.instances.filter((i) => states[i.name] === 'MASTER').map((i) => i.name),
        };
      };
      const all = c.instances.map((i) => i.name);
      // The wire agrees: each instance's last two adverts are live ones from the new master.
      // Two, so each step shows on the wire as a run of its own: the count below reads a
      // single advert between two of the other router's as the one in flight at a handover.
      const onTheWire = (who: 'a' | 'b'): boolean =>
        c.instances.every((i) => {
          const recent = observer.adverts(i.vrid).slice(-2);
          return recent.length === 2 && recent.every((e) => e.source === (who === 'a' ? A : B) && e.priority! > 0);
        });
      const expectMaster = async (who: 'a' | 'b', what: string) => {
        const start = Date.now();
        let seen = {};
        await waitFor(
          async () => {
            const m = await masterOf();
            seen = m;
            const states = m[who].length === all.length && m[who === 'a' ? 'b' : 'a'].length === 0;
            if (states) timings[what] ??= Date.now() - start;
            return states && onTheWire(who);
          },
          {
            what: `${what}: every instance MASTER on ${who} only, and its advert on the wire`,
            timeoutMs: downMs + 2 * c.intervalMs + 5000,
            stepMs: 50,
          },
        ).catch((err: Error) => {
          throw new Error(`${err.message}; MASTER at the end: ${JSON.stringify(seen)}`);
        });
      };
      const startFailoverd = async () => {
        agent = AgentProcess.start(lab.node('b').ns, yaml, join(lab.work, 'b.sock'), {}, 'info');
        await waitFor(async () => Object.keys(await agent!.states().catch((): Record<string, string> => ({}))).length === all.length, {
          what: 'failoverd API',
          timeoutMs: 15_000,
          stepMs: 50,
        });
      };

      // 1. Side by side: keepalived on A, failoverd on B.
      let k: RouterProcess | undefined = lab.keepalivedWith('a', `${fixtures}${c.file}-a.conf`);
      await startFailoverd();
      await expectMaster(c.high, 'both up');
      const sideBySideFrom = Date.now();
      await new Promise((r) => setTimeout(r, 3 * c.intervalMs));

      // 2. The master dies (kill -9): the other takes over. 3. It returns and preempts back.
      const killHigh = async (signal: 'SIGKILL' | 'SIGTERM') => {
        if (c.high === 'a') {
          await stopKeepalived(lab, k!, signal);
          k = undefined;
        } else if (signal === 'SIGKILL') {
          agent!.kill('SIGKILL');
          await agent!.exited;
        } else await agent!.stop();
      };
      const restartHigh = async () => {
        if (c.high === 'a') k = lab.keepalivedWith('a', `${fixtures}${c.file}-a.conf`);
        else await startFailoverd();
      };
      const low = c.high === 'a' ? 'b' : 'a';
      await killHigh('SIGKILL');
      await expectMaster(low, 'takeover after kill -9');
      await restartHigh();
      await expectMaster(c.high, 'preempt back after kill -9');
      // 4. A graceful stop (priority 0): the other takes over. 5. Preempt back.
      await killHigh('SIGTERM');
      await expectMaster(low, 'takeover after a graceful stop');
      await restartHigh();
      await expectMaster(c.high, 'preempt back after a graceful stop');

      // 6. The tracked interface goes down on the master: every instance of the sync group moves, and back.
      if (c.tracked) {
        sh(['ip', '-n', lab.node(c.high).ns, 'link', 'set', c.tracked, 'down']);
        await expectMaster(low, 'tracked interface down');
        sh(['ip', '-n', lab.node(c.high).ns, 'link', 'set', c.tracked, 'up']);
        await expectMaster(c.high, 'tracked interface up');
      }

      // On the wire: B under failoverd says what B under keepalived said; never two masters.
      const after = recorder.signatures(B, sideBySideFrom);
      assert.deepEqual(after, before, 'failoverd on B sends the adverts keepalived sent from B');
      const fromA = recorder.signatures(A, sideBySideFrom).map((s) => s.replace(/ prio \d+/, ''));
      assert.deepEqual(
        fromA,
        before.map((s) => s.replace(/ prio \d+/, '')),
        'A and B agree on VRID, interval, auth and addresses',
      );
      // Never two masters: each instance's masters on the wire in the order of the steps above,
      // counted, not timed: at most the one advert in flight when a preempting master's first arrives.
      const handovers = c.tracked ? 3 : 2;
      const expected = Array.from({ length: 2 * handovers + 1 }, (_, n) => ((n % 2 === 0) === (c.high === 'a') ? A : B));
      for (const i of c.instances) {
        const sideBySide = observer.adverts(i.vrid).filter((e) => e.t >= sideBySideFrom);
        assert.deepEqual(
          mastersOnTheWire(sideBySide).masters,
          expected,
          `${i.name}: the masters on the wire, in order: ${advertRuns(sideBySide)}`,
        );
        assert.ok(
          mastersOnTheWire(sideBySide).worstOverlap <= 1,
          `${i.name}: two masters advertised side by side: ${JSON.stringify(mastersOnTheWire(sideBySide))}`,
        );
        timings[`${i.name}: two masters on the wire (reported)`] = longestDualMasterMs(sideBySide, c.intervalMs);
        assert.ok(
          observer.adverts(i.vrid).some((e) => e.source === (c.high === 'a' ? A : B) && e.priority === 0),
          `${i.name}: the graceful stop sent priority 0`,
        );
      }
      process.stdout.write(
        `# ${c.name}: ${JSON.stringify(timings)} (ms; advert interval ${c.intervalMs}); B sends: ${after.join(' | ')}\n`,
      );
      if (k) await stopKeepalived(lab, k, 'SIGTERM');
    } finally {
      await agent?.stop();
      recorder?.stop();
      await lab.cleanup();
      if (existsSync(join(lab.work))) sh(['rm', '-rf', lab.work], { check: false });
    }
  });
}
