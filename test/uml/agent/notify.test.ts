// keepalived-style notify programs of a running agent, beyond the instance's own (that one
// is the netns track test): a sync group's programs, a service's quorum_up/quorum_down and
// a real server's notify_up/notify_down. Each program is a script that logs "$@"; a real
// server goes down and up by its exec check, seen also in ipvsadm. The checks allow three
// failures in a row: a loaded UML kernel can take over a second to spawn /bin/sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { directorLab } from '../director.js';
import { parseIpvsadmList } from '../../helpers/ipvsadm.js';
import { waitFor } from '../../helpers/wait.js';

const { dir, work, startAgent } = directorLab('ntfy', { workMode: 0o755 }); // the checks and notify programs may run as an unprivileged user

const log = join(work, 'notify.log');
function logger(name: string): string {
  const path = join(work, name);
  writeFileSync(path, `#!/bin/sh\necho "${name} $*" >> ${log}\n`);
  chmodSync(path, 0o755);
  return path;
}
const lines = (): string[] =>
  existsSync(log)
    ? readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.trimEnd())
    : [];
const rs1Down = join(work, 'rs1-down');

test(
  "sync group, quorum and real-server notify programs run with keepalived's arguments, each hook in order",
  { timeout: 240_000 },
  async () => {
    const configPath = join(work, 'failoverd.yaml');
    writeFileSync(
      configPath,
      `node: { name: lvs-a }
vrrp:
  - { name: web, interface: eth0, vrid: 51, priority: 150, advert_interval: 100ms, vips: [10.6.2.195/32], sync_group: pair }
  - { name: db, interface: eth0, vrid: 52, priority: 150, advert_interval: 100ms, vips: [10.6.2.196/32], sync_group: pair }
vrrp_sync_groups:
  - name: pair
    notify:
      on_master: [${logger('group-master.sh')}]
      on_stop: [${logger('group-stop.sh')}]
      on_change: [${logger('group.sh')}]
services:
  - name: web-80
    vip: 10.6.2.195
    port: 80
    quorum: 2
    notify: { on_quorum_up: [${logger('quorum-up.sh')}], on_quorum_down: [${logger('quorum-down.sh')}] }
    check: { type: exec, command: "true", interval: 1s, timeout: 1s, rise: 1, fall: 3 }
    real_servers:
      - address: 10.6.2.191
        check: { type: exec, command: "test ! -e ${rs1Down}", interval: 1s, timeout: 1s, rise: 1, fall: 3 }
        notify: { on_up: [${logger('rs1-up.sh')}, web-80, 10.6.2.191], on_down: [${logger('rs1-down.sh')}] }
      - { address: 10.6.2.192 }
api: { listen: ${join(work, 'api.sock')}, metrics: false }
logging: { format: json }
`,
    );
    const agent = startAgent(configPath);
    const logs = (n: number): string =>
      agent.logs
        .slice(-n)
        .map((l) => JSON.stringify(l))
        .join('\n');
    const servers = (): string[] => parseIpvsadmList(dir.exec('ipvsadm', ['-Ln']))[0]?.destinations.map((d) => d.id) ?? [];
    const logged = (what: string) => () => lines().includes(what);
    const wait = async (done: () => boolean, what: string, timeoutMs = 30_000): Promise<void> => {
      try {
        await waitFor(done, { what, timeoutMs, stepMs: 100 });
      } catch (err) {
        throw new Error(`${(err as Error).message}; notify log: ${JSON.stringify(lines())}; agent: ${logs(8)}`);
      }
    };

    await wait(logged('group.sh GROUP pair MASTER 0'), 'the group MASTER notify', 90_000);
    await wait(() => servers().length === 2, 'both real servers in ipvsadm');
    await wait(
      () => logged('quorum-up.sh')() && logged('rs1-up.sh web-80 10.6.2.191')() && logged('group-master.sh')(),
      'quorum up, rs1 up and the group on_master',
    );
    const started = lines().length;

    writeFileSync(rs1Down, '');
    await wait(logged('quorum-down.sh'), 'quorum down after rs1 fails');
    await wait(() => servers().join() === '10.6.2.192:80', 'rs1 out of the table');
    unlinkSync(rs1Down);
    await wait(() => lines().filter((l) => l === 'quorum-up.sh').length === 2, 'quorum up again');
    await wait(() => servers().sort().join() === '10.6.2.191:80,10.6.2.192:80', 'rs1 back in the table');

    agent.kill('SIGTERM');
    assert.equal(await agent.exited, 0, logs(5));

    const all = lines();
    // Programs of different hooks or objects run independently (src/alerts/programs.ts):
    // what one event, or one step of the agent, sets off together may log in either order
    // (rs1 up and the quorum it restores; on_master and on_change). One hook keeps its order.
    assert.deepEqual(
      all.filter((l) => l.startsWith('group.sh')),
      ['group.sh GROUP pair BACKUP 0', 'group.sh GROUP pair MASTER 0', 'group.sh GROUP pair STOP 0'],
    );
    assert.deepEqual(
      all
        .slice(0, started)
        .filter((l) => l.startsWith('group'))
        .sort(),
      ['group-master.sh', 'group.sh GROUP pair BACKUP 0', 'group.sh GROUP pair MASTER 0'],
      'at start-up the group is notified once per state, with priority 0 as keepalived does, and on_master once',
    );
    const after = all.slice(started);
    assert.deepEqual(
      [...after.slice(0, 2)].sort(),
      ['quorum-down.sh', 'rs1-down.sh'],
      `rs1 fails, the quorum is lost: ${JSON.stringify(after)}`,
    );
    assert.deepEqual(
      [...after.slice(2, 4)].sort(),
      ['quorum-up.sh', 'rs1-up.sh web-80 10.6.2.191'],
      `rs1 is back, so is the quorum: ${JSON.stringify(after)}`,
    );
    assert.deepEqual(
      [...after.slice(4)].sort(),
      ['group-stop.sh', 'group.sh GROUP pair STOP 0'],
      `the agent stops: ${JSON.stringify(after)}`,
    );
  },
);
