// The block converters alone, each with the ImportContext the first pass would build:
// what an instance takes from global_defs and its sync group, what a virtual_server
// takes from a virtual_server_group, and how checkers inherit their timing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertChecker } from '../../../src/keepalived/checker.js';
import { noGlobalSettings, type ImportContext } from '../../../src/keepalived/context.js';
import { convertGlobalDefs } from '../../../src/keepalived/global-defs.js';
import { importKeepalived } from '../../../src/keepalived/import.js';
import { parseKeepalived, type KaNode } from '../../../src/keepalived/parse.js';
import { convertRealServer } from '../../../src/keepalived/real-server.js';
import { convertVirtualServer } from '../../../src/keepalived/virtual-server.js';
import { convertInstance } from '../../../src/keepalived/vrrp-instance.js';

const nodes = (text: string): KaNode[] => {
  const parsed = parseKeepalived(text, 'k.conf');
  assert.deepEqual(parsed.problems, []);
  return parsed.nodes;
};
const one = (text: string): KaNode => nodes(text)[0]!;
const context = (over: Partial<ImportContext> = {}): ImportContext => ({
  globals: noGlobalSettings(),
  syncGroupOf: new Map(),
  serverGroups: new Map(),
  scripts: new Map(),
  files: new Map(),
  processes: new Map(),
  ...over,
});

describe('block converters with a shared context', () => {
  it("vrrp_instance takes global_defs' defaults and its sync group from the context", () => {
    const globals = convertGlobalDefs(
      one('global_defs {\n vrrp_version 3\n vrrp_garp_master_refresh 60\n' + ' vrrp_startup_delay 5\n lvs_sync_daemon eth1 VI_1 id 7\n}\n'),
    );
    assert.deepEqual(globals.findings, []);
    const ctx = context({ globals: globals.value!, syncGroupOf: new Map([['VI_1', 'VG_1']]) });
    const instance = convertInstance(
      one('vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n' + ' virtual_ipaddress {\n  192.0.2.10/32 dev eth2\n }\n}\n'),
      ctx,
    );
    assert.deepEqual(instance.findings, []);
    assert.deepEqual(instance.value, {
      name: 'VI_1',
      interface: 'eth0',
      vrid: 51,
      priority: 100,
      version: 3,
      startup_delay: '5s',
      vips: [{ address: '192.0.2.10/32', interface: 'eth2' }],
      garp: { refresh: '1m' },
      sync_daemon: { interface: 'eth1', sync_id: 7 },
      sync_group: 'VG_1',
    });
    assert.deepEqual(
      Object.keys(instance.value),
      ['name', 'interface', 'vrid', 'priority', 'version', 'startup_delay', 'vips', 'garp', 'sync_daemon', 'sync_group'],
      'in the order the schema documents',
    );
  });

  it('an instance another context does not name keeps no sync group, and takes no global sync daemon', () => {
    const ctx = context({ syncGroupOf: new Map([['VI_1', 'VG_1']]) });
    const instance = convertInstance(
      one('vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 52\n' + ' virtual_ipaddress {\n  192.0.2.11\n }\n}\n'),
      ctx,
    );
    assert.equal(instance.value!.sync_group, undefined);
    assert.equal(instance.value!.sync_daemon, undefined);
  });

  it('virtual_server group NAME is one service over the group the context holds (vips, fwmarks), its real servers checked once', () => {
    const group = (kind: string) =>
      nodes(
        'virtual_server_group WEB {\n 192.0.2.10-11 80\n fwmark 5\n}\n' +
          `virtual_server group WEB {\n lb_kind ${kind}\n real_server 10.0.0.1 80 {\n  TCP_CHECK {\n  }\n }\n}\n`,
      );
    const [nat, natServer] = group('NAT');
    const converted = convertVirtualServer(natServer!, context({ serverGroups: new Map([['WEB', nat!]]) }));
    assert.deepEqual(converted.findings, []);
    assert.deepEqual(
      converted.value!.map((s) => [s.name, s.vips, s.port, s.fwmarks, s.real_servers!.length]),
      [['WEB', ['192.0.2.10-11'], 80, [5], 1]],
    );
    // Direct routing: keepalived gives the server port 80 in the address entries and 0 in the mark's.
    const [dr, drServer] = group('DR');
    const refused = convertVirtualServer(drServer!, context({ serverGroups: new Map([['WEB', dr!]]) }));
    assert.deepEqual(
      refused.findings.map((f) => [f.kind, f.line, f.message]),
      [
        [
          'lossy',
          7,
          "real_server 10.0.0.1 80: keepalived gives it each group entry's port (80, 0); failoverd gives a server one port in every entry",
        ],
      ],
    );
    const missing = convertVirtualServer(natServer!, context());
    assert.equal(missing.value, undefined);
    assert.match(missing.findings[0]!.message, /no virtual_server_group WEB is defined/);
  });

  it("a checker inherits the real server's timing, which inherits the service's", () => {
    const rs = one('real_server 10.0.0.1 80 {\n delay_loop 7\n MISC_CHECK {\n  misc_path "/bin/check a"\n }\n}\n');
    const converted = convertRealServer(rs, {
      checkDefaults: { interval: 3000, alpha: true },
      forwarding: 'dr',
      inhibit: true,
      mailsByDefault: false,
    });
    assert.deepEqual(converted.findings, []);
    assert.equal(converted.inhibit, true, 'inhibit_on_failure from the service');
    assert.deepEqual(converted.out, { address: '10.0.0.1', port: 80, weight: 1 });
    assert.deepEqual(converted.checks, [
      {
        type: 'exec',
        interval: '7s',
        timeout: '7s',
        rise: 1,
        fall: 1,
        retry: 0,
        delay_before_retry: '1s',
        initial: 'down',
        command: ['/bin/check', 'a'],
      },
    ]);
  });

  it("HTTP_GET: one check per url, each with the checker's virtualhost unless its own", () => {
    const checker = one(
      'HTTP_GET {\n virtualhost www.example\n url {\n  path /a\n }\n' +
        ' url {\n  path /b\n  virtualhost b.example\n  status_code 200 204\n }\n}\n',
    );
    const converted = convertChecker(checker, {});
    assert.deepEqual(
      converted.value!.map((c) => [c['path'], c['host'], c['expect_status'], c.timeout, c.delay_before_retry]),
      [
        ['/a', 'www.example', undefined, '5s', '3s'],
        ['/b', 'b.example', [200, 204], '5s', '3s'],
      ],
    );
  });
});

describe('global settings judged by the rest of the file', () => {
  const file = (globals: string, vip: string, check = 'TCP_CHECK {\n  }') =>
    `global_defs {\n${globals}\n}\n` +
    `vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  ${vip}\n }\n}\n` +
    `virtual_server 192.0.2.10 80 {\n lb_kind DR\n real_server 10.0.0.1 80 {\n  ${check}\n }\n}\n`;
  const lossyLines = (text: string) => importKeepalived(text, 'k.conf').lossy.map((f) => `${f.line} ${f.message.split(':')[0]}`);

  it('vrrp_gna_interval is refused with an IPv6 VIP only; an IPv4 VIP on another interface is not one', () => {
    assert.deepEqual(lossyLines(file(' vrrp_gna_interval 1', '192.0.2.10/32 dev eth1 label eth1:web')), []);
    assert.deepEqual(lossyLines(file(' vrrp_gna_interval 1', '192.0.2.10/32')), []);
    assert.deepEqual(lossyLines(file(' vrrp_gna_interval 1', '2001:db8::10/128 dev eth1')), ['2 vrrp_gna_interval 1']);
  });

  it('script_user is refused when a MISC_CHECK is carried over, on the service or on one real server', () => {
    assert.deepEqual(lossyLines(file(' script_user nobody', '192.0.2.10')), []);
    assert.deepEqual(lossyLines(file(' script_user nobody', '192.0.2.10', 'MISC_CHECK {\n   misc_path /bin/true\n  }')), [
      '2 script_user nobody',
    ]);
    const twoServers = file(' script_user nobody', '192.0.2.10', 'MISC_CHECK {\n   misc_path /bin/true\n  }').replace(
      ' real_server 10.0.0.1 80 {',
      ' real_server 10.0.0.2 80 {\n  TCP_CHECK {\n  }\n }\n real_server 10.0.0.1 80 {',
    );
    assert.deepEqual(lossyLines(twoServers), ['2 script_user nobody'], 'the check is written per server then');
  });

  // keepalived runs every script as script_user: notify, track scripts, quorum and real-server notify too.
  const withScripts = (globals: string, script: 'notify' | 'track' | 'sync' | 'quorum' | 'none') => {
    const instanceExtra =
      { notify: ' notify_backup /usr/local/bin/backup\n', track: ' track_script {\n  chk\n }\n' }[script as 'notify'] ?? '';
    return (
      `global_defs {\n${globals}\n}\n` +
      'vrrp_script chk {\n script /usr/bin/true\n}\n' +
      (script === 'sync' ? 'vrrp_sync_group G {\n group {\n  VI_1\n }\n notify_master /usr/local/bin/g-master\n}\n' : '') +
      `vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10\n }\n${instanceExtra}}\n` +
      `virtual_server 192.0.2.10 80 {\n lb_kind DR\n${script === 'quorum' ? ' quorum_up /usr/local/bin/up\n' : ''}` +
      ' real_server 10.0.0.1 80 {\n  TCP_CHECK {\n  }\n }\n}\n'
    );
  };

  it('script_user is refused when any script is carried over: notify, track script, sync group notify, quorum', () => {
    for (const script of ['notify', 'track', 'sync', 'quorum'] as const) {
      const r = importKeepalived(withScripts(' script_user nobody', script), 'k.conf');
      assert.deepEqual(
        r.lossy.map((f) => f.line),
        [2],
        script,
      );
      assert.match(r.lossy[0]!.message, /as this user; failoverd runs them as itself/, script);
    }
    assert.deepEqual(lossyLines(withScripts(' script_user nobody', 'none')), [], 'an unused vrrp_script runs nothing');
  });

  it('enable_script_security is refused, naming its line, when any script is carried over; a warning without scripts', () => {
    for (const script of ['notify', 'track', 'sync', 'quorum'] as const) {
      const r = importKeepalived(withScripts(' enable_script_security', script), 'k.conf');
      assert.deepEqual(
        r.lossy.map((f) => `${f.file}:${f.line}`),
        ['k.conf:2'],
        script,
      );
      assert.match(r.lossy[0]!.message, /only as the keepalived_script user, and none at all if that user does not exist/, script);
    }
    const misc = importKeepalived(file(' enable_script_security', '192.0.2.10', 'MISC_CHECK {\n   misc_path /bin/true\n  }'), 'k.conf');
    assert.deepEqual(
      misc.lossy.map((f) => f.line),
      [2],
    );
    assert.match(misc.lossy[0]!.message, /MISC_CHECK scripts only as the keepalived_script user/);
    // With a script_user, both lines are named: the user, and the security that would also refuse root.
    const both = importKeepalived(withScripts(' script_user nobody\n enable_script_security', 'notify'), 'k.conf');
    assert.deepEqual(
      both.lossy.map((f) => `${f.line} ${f.message.split(':')[0]}`),
      ['2 script_user nobody', '3 enable_script_security'],
    );
    assert.match(both.lossy[1]!.message, /only as script_user/);
    // script_user root is keepalived's own default user: carried over as without it, and the path check is a warning.
    const root = importKeepalived(withScripts(' enable_script_security\n script_user root', 'notify'), 'k.conf');
    assert.deepEqual(root.lossy, []);
    assert.deepEqual(
      root.findings.filter((f) => f.line === 2 || f.line === 3).map((f) => f.message),
      [
        'enable_script_security: with script_user root, keepalived runs the notify scripts as root, but none whose path a non-root ' +
          'user can write; failoverd does not look at the path (keep them root-owned, not group- or world-writable)',
        "script_user root: keepalived's default user, as without it",
      ],
    );
    const none = importKeepalived(withScripts(' enable_script_security', 'none'), 'k.conf');
    assert.deepEqual(none.lossy, []);
    assert.deepEqual(
      none.findings.filter((f) => f.line === 2).map((f) => f.message),
      ['enable_script_security: no script is carried over, so no effect'],
    );
  });
});
