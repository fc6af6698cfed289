// systemd/failoverd.service: its promises (notify, reload, two capabilities) and
// what systemd-analyze says about it. Needs systemd-analyze, not root or PID 1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const unitPath = fileURLToPath(new URL('../../../../systemd/failoverd.service', import.meta.url));
const unit = readFileSync(unitPath, 'utf8');
const settings = (key: string) =>
  unit
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('systemd/failoverd.service', () => {
  it('is Type=notify with a watchdog, reloads with SIGHUP, restarts on failure', () => {
    assert.deepEqual(settings('Type'), ['notify']);
    assert.equal(settings('WatchdogSec').length, 1);
    assert.ok(settings('ExecReload').includes('/bin/kill -HUP $MAINPID'));
    assert.deepEqual(settings('Restart'), ['on-failure']);
    assert.deepEqual(settings('RuntimeDirectory'), ['failoverd']);
  });

  it('runs with CAP_NET_ADMIN and CAP_NET_RAW only', () => {
    assert.deepEqual(settings('CapabilityBoundingSet'), ['CAP_NET_ADMIN CAP_NET_RAW']);
    assert.deepEqual(settings('AmbientCapabilities'), ['CAP_NET_ADMIN CAP_NET_RAW']);
    assert.notDeepEqual(settings('User'), ['root']);
    assert.deepEqual(settings('NoNewPrivileges'), ['yes']);
    assert.deepEqual(settings('RestrictAddressFamilies'), ['AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET']);
  });

  it('passes systemd-analyze verify', { skip: haveAnalyze ? false : 'systemd-analyze is not installed' }, () => {
    // verify insists that ExecStart's program exists, so it runs against a scratch root
    // holding the unit, the distribution's units and a stand-in /usr/bin/failoverd.
    const root = mkdtempSync(join(tmpdir(), 'failoverd-unit-'));
    try {
      mkdirSync(join(root, 'usr/bin'), { recursive: true });
      mkdirSync(join(root, 'bin'), { recursive: true });
      mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
      writeFileSync(join(root, 'usr/bin/failoverd'), '#!/bin/sh\nexit 0\n');
      chmodSync(join(root, 'usr/bin/failoverd'), 0o755);
      copyFileSync('/bin/kill', join(root, 'bin/kill'));
      chmodSync(join(root, 'bin/kill'), 0o755);
      for (const dir of ['/usr/lib/systemd/system', '/lib/systemd/system']) {
        if (existsSync(dir)) {
          cpSync(dir, join(root, 'usr/lib/systemd/system'), { recursive: true });
          break;
        }
      }
      copyFileSync(unitPath, join(root, 'etc/systemd/system/failoverd.service'));
      const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', 'failoverd.service'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim(), '', 'no warnings');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it(
    'systemd-analyze security rates it OK (exposure below 3.0)',
    { skip: haveAnalyze ? false : 'systemd-analyze is not installed' },
    () => {
      const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unitPath], { encoding: 'utf8', timeout: 30_000 });
      const m = /Overall exposure level for failoverd\.service: ([\d.]+)/.exec(r.stdout);
      assert.ok(m, `${r.stdout}${r.stderr}`);
      const exposure = Number(m[1]);
      process.stdout.write(`# systemd-analyze security exposure: ${exposure}\n`);
      assert.ok(exposure < 3.0, `exposure ${exposure}`);
    },
  );
});
