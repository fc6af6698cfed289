// The YAML's track.scripts / files / processes and `reverse` reach the instance as written
// (durations in ms, a string command through /bin/sh -c, the timeout defaulting to the
// interval), and the rules refuse what cannot work, at file:line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vrrpInstanceOf } from '../../../src/agent/map-config.js';
import { edit, errorsOf, load } from '../config/config-text.js';

const TRACK = (yaml: string) => edit(7, `    vips: [10.6.2.195/32]\n    track:\n${yaml}`);

describe('track config → instance', () => {
  it('scripts, files and processes map with their keepalived meaning', () => {
    const loaded = load(
      TRACK(`      interfaces: [{ name: eth1, weight: 10, reverse: true }]
      scripts:
        - { name: chk_haproxy, command: [/usr/bin/pidof, haproxy], interval: 2s, fall: 3, rise: 2, weight: -30 }
        - { name: chk_sh, command: "test -f /run/up", timeout: 500ms, initial: down, weight: 0, reverse: true }
      files: [{ path: /etc/failoverd/prio, weight: 5 }]
      processes:
        - { name: haproxy, process: haproxy, quorum: 2, quorum_max: 4, delay_up: 1s, delay_down: 500ms, weight: -40 }
        - { name: nginx, process: /usr/sbin/nginx, args: [-g], param_match: initial, weight: 20, reverse: true }`),
    );
    assert.ok(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.errors));
    const track = vrrpInstanceOf(loaded.config.vrrp[0]!).track;
    assert.deepEqual(track.interfaces, [{ name: 'eth1', weight: 10, reverse: true }]);
    assert.deepEqual(track.scripts, [
      {
        name: 'chk_haproxy',
        command: ['/usr/bin/pidof', 'haproxy'],
        intervalMs: 2000,
        timeoutMs: 2000,
        rise: 2,
        fall: 3,
        weight: -30,
        reverse: false,
      },
      {
        name: 'chk_sh',
        command: ['/bin/sh', '-c', 'test -f /run/up'],
        intervalMs: 1000,
        timeoutMs: 500,
        rise: 1,
        fall: 1,
        initial: 'down',
        weight: 0,
        reverse: true,
      },
    ]);
    assert.deepEqual(track.files, [{ path: '/etc/failoverd/prio', weight: 5, reverse: false }]);
    assert.deepEqual(track.processes, [
      {
        name: 'haproxy',
        process: 'haproxy',
        fullCommand: false,
        quorum: 2,
        quorumMax: 4,
        delayUpMs: 1000,
        delayDownMs: 500,
        weight: -40,
        reverse: false,
      },
      {
        name: 'nginx',
        process: '/usr/sbin/nginx',
        args: ['-g'],
        paramMatch: 'initial',
        fullCommand: false,
        quorum: 1,
        delayUpMs: 0,
        delayDownMs: 0,
        weight: 20,
        reverse: true,
      },
    ]);
  });

  it('refuses, at file:line: a relative program, a weight past 253, quorum_max under quorum, duplicate names, an owner with a process weight', () => {
    assert.deepEqual(
      errorsOf(TRACK('      scripts: [{ name: a, command: [pidof, haproxy] }]')).map((e) => e.replace(/:\d+:\d+ /, ' ')),
      ['failoverd.yaml vrrp[0].track.scripts[0].command: expected an absolute program path first'],
    );
    assert.match(
      errorsOf(TRACK('      files: [{ path: /f, weight: 254 }]'))[0]!,
      /vrrp\[0\]\.track\.files\[0\]\.weight: expected a number ≤ 253/,
    );
    assert.match(
      errorsOf(TRACK('      processes: [{ name: p, process: p, quorum: 3, quorum_max: 2 }]'))[0]!,
      /^failoverd\.yaml:\d+:\d+ vrrp\[0\]\.track\.processes\[0\]\.quorum_max: at least quorum \(3\)/,
    );
    assert.match(
      errorsOf(TRACK('      scripts: [{ name: a, command: /bin/true }, { name: a, command: /bin/false }]'))[0]!,
      /track\.scripts\[1\]\.name: "a" is already track\.scripts\[0\]/,
    );
    const owner = edit(6, '    priority: 255').replace(
      '    vips: [10.6.2.195/32]',
      '    vips: [10.6.2.195/32]\n    track: { processes: [{ name: p, process: p, weight: -10 }] }',
    );
    assert.match(errorsOf(owner)[0]!, /track\.processes\[0\]\.weight: the address owner/);
  });

  it('vrrp_sync_groups must name a group an instance is in', () => {
    const text = TRACK('      interfaces: []').replace('    track:', '    sync_group: G\n    track:');
    assert.equal(load(`${text}vrrp_sync_groups: [{ name: G, notify: { on_master: [/bin/true] } }]\n`).ok, true);
    assert.match(
      errorsOf(`${text}vrrp_sync_groups: [{ name: H, notify: { on_master: [/bin/true] } }]\n`)[0]!,
      /vrrp_sync_groups\[0\]\.name: no vrrp instance has sync_group: H/,
    );
  });
});
