// VRRP tracking and keepalived-style notify with the real agent (`failoverd run` in a
// namespace), seen from outside: an observer's tcpdump reads the priority field of the
// adverts. One instance (base priority 100) tracks a script, a file, a process and a
// reversed script; each change moves the advertised priority by its weight:
//   start: file holds 1 × weight 10                 → 110
//   the script fails (weight -20)                   → 90
//   the file is removed (missing = 0)               → 80
//   the tracked process is killed (weight -30)      → 50
//   the reversed script fails (weight -15 reverse)  → 65 (reverse raises it)
//   a weight-0 script fails                         → FAULT (priority 0: it resigns)
// Its notify programs, keepalived-style scripts logging "$@", see BACKUP (start), MASTER,
// FAULT and STOP (the agent stopping) with the instance's arguments, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canRunNetns, Lab } from './lab.js';
import { AgentProcess } from '../robustness/agent-process.js';
import { waitFor } from '../../helpers/wait.js';

const skip = canRunNetns();

test(
  "track scripts, files and processes move the priority on the wire; reverse raises it; notify programs get keepalived's arguments",
  { skip, timeout: 120_000 },
  async (t) => {
    const lab = new Lab('tk');
    const work = mkdtempSync(join(tmpdir(), 'failoverd-track-'));
    chmodSync(work, 0o755);
    let agent: AgentProcess | undefined;
    let tracked: ChildProcess | undefined;
    try {
      lab.setup([{ name: 'dir', ipv4: '192.0.2.10' }]);
      const observer = await lab.observe();
      const dir = lab.node('dir');
      // A process with a name of its own: a copy of sleep (comm is its file name).
      const procName = `fotrk${process.pid}`.slice(0, 15);
      const binary = join(work, procName);
      copyFileSync('/bin/sleep', binary);
      chmodSync(binary, 0o755);
      tracked = spawn(binary, ['600'], { stdio: 'ignore' });
      const fail = join(work, 'fail');
      const failReversed = join(work, 'fail-reversed');
      const faultFlag = join(work, 'fault');
      const prio = join(work, 'prio');
      writeFileSync(prio, '1\n');
      const log = join(work, 'notify.log');
      const logger = (name: string) => {
        const path = join(work, name);
        writeFileSync(path, `#!/bin/sh\necho "${name} $*" >> ${log}\n`);
        chmodSync(path, 0o755);
        return path;
      };
      const socket = join(work, 'api.sock');
      writeFileSync(
        join(work, 'failoverd.yaml'),
        `node: { name: tracker }
vrrp:
  - name: web
    interface: eth0
    vrid: 51
    priority: 100
    advert_interval: 1s
    vips: [10.6.2.195/32]
    track:
      scripts:
        - { name: chk, command: "test ! -e ${fail}", interval: 250ms, weight: -20 }
        - { name: chk_rev, command: [/bin/sh, -c, "test ! -e ${failReversed}"], interval: 250ms, weight: -15, reverse: true }
        - { name: chk_fault, command: "test ! -e ${faultFlag}", interval: 250ms, weight: 0 }
      files: [{ path: ${prio}, weight: 10 }]
      processes: [{ name: sleeper, process: ${procName}, weight: -30 }]
    notify:
      on_master: [${logger('master.sh')}, from-config]
      on_fault: [${logger('fault.sh')}]
      on_stop: [${logger('stop.sh')}]
      on_change: [${logger('notify.sh')}]
services: []
api: { listen: ${socket}, metrics: false }
logging: { format: json }
`,
      );
      agent = AgentProcess.start(dir.ns, join(work, 'failoverd.yaml'), socket, {}, 'info');
      await agent.waitForState('web', 'MASTER', 20_000);
      const wirePriority = () =>
        observer
          .adverts(51)
          .filter((a) => a.srcMac === dir.mac)
          .at(-1)?.priority;
      const seen: number[] = [];
      const expect = async (priority: number, what: string) => {
        await waitFor(() => wirePriority() === priority, {
          what: `priority ${priority} on the wire after ${what}`,
          timeoutMs: 20_000,
          stepMs: 50,
          detail: () => `last seen ${wirePriority()}`,
        });
        seen.push(priority);
      };
      await expect(110, 'start');
      writeFileSync(fail, '');
      await expect(90, 'the script failing');
      rmSync(prio);
      await expect(80, 'the file going missing');
      tracked.kill('SIGKILL');
      await expect(50, 'the process dying');
      writeFileSync(failReversed, '');
      await expect(65, 'the reversed script failing');
      t.diagnostic(`advertised priorities in turn: ${seen.join(' → ')}`);
      assert.equal((await agent.states())['web'], 'MASTER', 'alone on the segment, it stays master throughout');
      // A weight-0 script failing is a FAULT: the master resigns with priority 0 on the wire.
      writeFileSync(faultFlag, '');
      await agent.waitForState('web', 'FAULT', 20_000);
      await expect(0, 'the weight-0 script failing');

      await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('notify.sh INSTANCE web MASTER'), {
        what: 'the MASTER notify',
        timeoutMs: 20_000,
        stepMs: 50,
      });
      await agent.stop();
      agent = undefined;
      const lines = readFileSync(log, 'utf8').trim().split('\n');
      // The priority an instance reports in FAULT is its own business (keepalived reports its effective one): read it back.
      const faultPriority = /notify\.sh INSTANCE web FAULT (\d+)/.exec(lines.join('\n'))?.[1];
      t.diagnostic(lines.join(' | '));
      // As keepalived, the instance starts in BACKUP (no on_backup program here: only the generic one runs).
      assert.deepEqual(lines, [
        'notify.sh INSTANCE web BACKUP 110',
        'master.sh from-config',
        'notify.sh INSTANCE web MASTER 110',
        'fault.sh ',
        `notify.sh INSTANCE web FAULT ${faultPriority}`,
        'stop.sh ',
        `notify.sh INSTANCE web STOP ${faultPriority}`,
      ]);
    } finally {
      await agent?.stop();
      tracked?.kill('SIGKILL');
      await lab.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  },
);
