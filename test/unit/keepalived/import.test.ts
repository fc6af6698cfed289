import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigText, type FailoverdConfig } from '../../../src/config/index.js';
import { formatFinding, importKeepalived, type ImportResult } from '../../../src/keepalived/import.js';
import { parseKeepalived } from '../../../src/keepalived/parse.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/keepalived/', import.meta.url));

async function validate(result: ImportResult): Promise<FailoverdConfig> {
  const loaded = loadConfigText(result.yaml, 'converted.yaml', { checkPlugins: await loadCheckPlugins(), env: {} });
  assert.ok(loaded.ok, loaded.ok ? '' : `${loaded.errors.map(formatConfigError).join('\n')}\n${result.yaml}`);
  return loaded.config;
}

const relative = (result: ImportResult, kind: 'lossy' | 'warning') =>
  result.findings
    .filter((f) => f.kind === kind)
    .map(formatFinding)
    .map((w) => w.replace(fixtures, ''));

function importFixture(name: string, instance = 'test-host'): ImportResult {
  const file = `${fixtures}${name}`;
  return importKeepalived(readFileSync(file, 'utf8'), file, { instance });
}

const instance = (body: string, globals = '') =>
  `global_defs {\n${globals}}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n${body}\n virtual_ipaddress {\n  192.0.2.10/32\n }\n}\n`;

describe('import-keepalived: two instances in a sync group, HTTP_GET and TCP_CHECK services', () => {
  it('carries the values and the notify programs over; a track_script naming no vrrp_script is ignored, as keepalived does', async () => {
    const result = importFixture('director-a.conf');
    assert.deepEqual(relative(result, 'lossy'), []);
    assert.ok(
      relative(result, 'warning').some((w) => /^director-a\.conf:63: chk_postfix: no vrrp_script of that name; keepalived ignores/.test(w)),
    );
    const config = await validate(result);
    assert.equal(config.node.name, 'LVS_A');
    const [web, mail] = config.vrrp;
    assert.deepEqual(
      [web!.name, web!.interface, web!.vrid, web!.priority, web!.version, web!.advert_interval, web!.preempt, web!.auth, web!.sync_group],
      ['VI_WEB', 'eth0', 51, 150, 2, 1000, true, { password: 's3cret' }, 'VG_1'],
    );
    assert.deepEqual(web!.vips, [{ address: '10.6.2.195', prefix: 32, interface: 'eth0', label: 'eth0:web' }]);
    assert.deepEqual(web!.track.interfaces, [
      { name: 'eth0', weight: 0, reverse: false },
      { name: 'eth1', weight: -20, reverse: false },
    ]);
    assert.deepEqual(web!.sync_daemon, { interface: 'eth0', sync_id: 51 });
    assert.deepEqual([web!.garp.refresh, web!.garp.delay], [60_000, 2000]);
    assert.deepEqual(
      [mail!.name, mail!.vrid, mail!.advert_interval, mail!.preempt, mail!.unicast_source, mail!.unicast_peers, mail!.sync_group],
      ['VI_MAIL', 52, 2000, false, '10.6.2.188', ['10.6.2.189'], 'VG_1'],
    );
    const [http, smtp] = config.services;
    assert.deepEqual(
      [http!.vip, http!.port, http!.scheduler, http!.forwarding, http!.persistence, http!.quorum, http!.on_failure],
      ['10.6.2.195', 80, 'wlc', 'dr', 50_000, 1, 'remove'],
    );
    assert.deepEqual(
      http!.real_servers.map((rs) => [rs.address, rs.port, rs.weight]),
      [
        ['10.6.2.191', 80, 3],
        ['10.6.2.192', 80, 2],
      ],
    );
    const httpCheck = http!.real_servers[1]!.checks[0]!;
    assert.deepEqual(
      [httpCheck.type, httpCheck.interval, httpCheck.timeout, httpCheck.retry, httpCheck.initial, httpCheck.options['path']],
      ['http', 6000, 3000, 3, 'down', '/healthz'],
    );
    assert.deepEqual([smtp!.vip, smtp!.port, smtp!.scheduler, smtp!.on_failure], ['10.6.2.196', 25, 'rr', 'inhibit']);
    assert.deepEqual(config.alerts.notify, [], 'no script becomes a run-on-every-change program');
    assert.deepEqual(config.vrrp_sync_groups, [{ name: 'VG_1', notify: { on_change: ['/etc/keepalived/notify.sh'], timeout: 10_000 } }]);
    assert.deepEqual(smtp!.real_servers[1]!.notify, { on_down: ['/usr/local/bin/mail-down.sh'], timeout: 10_000 });
  });

  it('--allow-partial output marks each lossy spot with a NOT CARRIED OVER comment', () => {
    const text =
      'vrrp_instance VI_WEB {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10/32\n }\n}\n' +
      'vrrp_instance VI_MAIL {\n interface eth0\n virtual_router_id 52\n notify_deleted /bin/d\n virtual_ipaddress {\n  192.0.2.11/32\n }\n}\n';
    const lines = importKeepalived(text, 'k.conf').yaml.split('\n');
    const marks = lines.filter((l) => l.includes('NOT CARRIED OVER:')).map((l) => l.trim());
    assert.deepEqual(
      marks.map((m) => m.split(': notify_deleted')[0]),
      ['# NOT CARRIED OVER: k.conf:11'],
    );
    assert.match(
      lines[lines.findIndex((l) => l.includes('k.conf:11')) + 1]!,
      /- name: VI_MAIL/,
      'the comment stands at the instance it concerns',
    );
  });
});

describe('import-keepalived: faithful or refused', () => {
  it("refuses auth_type AH (the peers would drop each other's adverts)", () => {
    const r = importKeepalived(instance(' authentication {\n  auth_type AH\n  auth_pass secret\n }'), 'k.conf');
    assert.deepEqual(
      r.lossy.map((f) => [f.line, /auth_type AH/.test(f.message)]),
      [[7, true]],
    );
    assert.equal((r.config['vrrp'] as Array<Record<string, unknown>>)[0]!['auth'], undefined);
  });

  it('drops authentication under vrrp_strict, as keepalived does, and keeps it without', async () => {
    const auth = ' priority 255\n authentication {\n  auth_type PASS\n  auth_pass 1111\n }';
    const strict = importKeepalived(instance(auth, ' vrrp_strict\n'), 'k.conf');
    assert.deepEqual(strict.lossy, []);
    assert.equal((await validate(strict)).vrrp[0]!.auth, undefined);
    assert.ok(strict.findings.some((f) => f.kind === 'warning' && /ignores it under vrrp_strict/.test(f.message)));
    const plain = importKeepalived(instance(auth), 'k.conf');
    assert.deepEqual((await validate(plain)).vrrp[0]!.auth, { password: '1111' });
  });

  it('refuses vrrp_strict on a non-owner: keepalived would firewall the VIPs (no_accept)', () => {
    const r = importKeepalived(instance(' priority 100', ' vrrp_strict\n'), 'k.conf');
    assert.deepEqual(
      r.lossy.map((f) => f.message.split(':')[0]),
      ['vrrp_strict'],
    );
  });

  it('keeps "weight N reverse" on every kind of tracked object', async () => {
    const text =
      'vrrp_script chk {\n script "/usr/bin/pidof haproxy"\n interval 2\n timeout 1\n rise 2\n fall 3\n weight -20 reverse\n}\n' +
      'track_file prio {\n file /run/prio\n weight 5\n}\n' +
      'vrrp_track_process haproxy {\n process haproxy\n quorum 2\n quorum_max 4\n delay 1.5\n weight -30\n}\n' +
      instance(
        ' track_interface {\n  eth1 weight 10 reverse\n }\n track_script {\n  chk\n }\n track_file {\n  prio weight 3 reverse\n }\n track_process {\n  haproxy\n }',
      );
    const r = importKeepalived(text, 'k.conf');
    assert.deepEqual(r.lossy, []);
    const track = (await validate(r)).vrrp[0]!.track;
    assert.deepEqual(track.interfaces, [{ name: 'eth1', weight: 10, reverse: true }]);
    assert.deepEqual(track.scripts, [
      {
        name: 'chk',
        command: ['/usr/bin/pidof', 'haproxy'],
        interval: 2000,
        timeout: 1000,
        rise: 2,
        fall: 3,
        initial: 'up',
        weight: -20,
        reverse: true,
      },
    ]);
    assert.deepEqual(track.files, [{ path: '/run/prio', weight: 3, reverse: true }]);
    assert.deepEqual(track.processes, [
      {
        name: 'haproxy',
        process: 'haproxy',
        full_command: false,
        quorum: 2,
        quorum_max: 4,
        delay_up: 1500,
        delay_down: 1500,
        weight: -30,
        reverse: false,
      },
    ]);
  });

  it('refuses what would behave differently: a weight past 253, a script run as another user, init_file, shell syntax', () => {
    const lossyLines = (text: string) => importKeepalived(text, 'k.conf').lossy.map((f) => f.line);
    assert.deepEqual(lossyLines(`vrrp_track_process p {\n process p\n weight 254\n}\n${instance(' track_process {\n  p\n }')}`), [3, 11]);
    assert.deepEqual(lossyLines(`vrrp_script s {\n script /bin/true\n user nobody\n}\n`), [3]);
    assert.match(
      importKeepalived(`vrrp_track_process p {\n process p\n weight 254\n}\n${instance(' track_process {\n  p\n }')}`, 'k.conf').lossy[1]!
        .message,
      /its vrrp_track_process was refused/,
    );
    assert.deepEqual(lossyLines(`track_file f {\n file /run/f\n init_file 5\n}\n`), [3]);
    assert.deepEqual(lossyLines(`vrrp_script s {\n script "</dev/tcp/127.0.0.1/80"\n}\n`), [2]);
    assert.deepEqual(lossyLines(instance(' notify_master /bin/m nobody')), [6]);
  });

  it('carries init_fail over: the script starts down, as keepalived starts it failed', async () => {
    const text = `vrrp_script chk {\n script /bin/true\n rise 3\n init_fail\n weight -20\n}\n${instance(' track_script {\n  chk\n }')}`;
    const r = importKeepalived(text, 'k.conf');
    assert.deepEqual(r.lossy, []);
    assert.match(r.yaml, /^ +initial: down$/m);
    const script = (await validate(r)).vrrp[0]!.track.scripts[0]!;
    assert.equal(script.initial, 'down');
    assert.equal(script.rise, 3);
    const without = importKeepalived(`vrrp_script chk {\n script /bin/true\n}\n${instance(' track_script {\n  chk\n }')}`, 'k.conf');
    assert.doesNotMatch(without.yaml, /initial:/);
    assert.equal((await validate(without)).vrrp[0]!.track.scripts[0]!.initial, 'up');
  });

  it("maps notify scripts to the instance's state-filtered programs, with keepalived's own arguments", async () => {
    const text = instance(' notify_master /bin/m\n notify_backup "/bin/b x"\n notify_fault /bin/f\n notify_stop /bin/s\n notify /bin/n');
    const r = importKeepalived(text, 'k.conf');
    assert.deepEqual(r.lossy, []);
    const config = await validate(r);
    assert.deepEqual(config.vrrp[0]!.notify, {
      on_master: ['/bin/m'],
      on_backup: ['/bin/b', 'x'],
      on_fault: ['/bin/f'],
      on_stop: ['/bin/s'],
      on_change: ['/bin/n'],
      timeout: 10_000,
    });
    assert.deepEqual(config.alerts.notify, [], 'nothing runs on every change');
  });

  it('maps quorum_up/quorum_down and notify_up/notify_down; a bare program name runs through /bin/sh as keepalived finds it on PATH', async () => {
    const text =
      'virtual_server 192.0.2.1 80 {\n quorum_up "logger up"\n quorum_down /bin/qd\n real_server 192.0.2.2 80 {\n  notify_up /bin/u\n  notify_down "/bin/d rs1"\n  TCP_CHECK {\n  }\n }\n}\n';
    const r = importKeepalived(text, 'k.conf');
    assert.deepEqual(r.lossy, []);
    const service = (await validate(r)).services[0]!;
    assert.deepEqual(service.notify, { on_quorum_up: 'logger up', on_quorum_down: ['/bin/qd'], timeout: 10_000 });
    assert.deepEqual(service.real_servers[0]!.notify, { on_up: ['/bin/u'], on_down: ['/bin/d', 'rs1'], timeout: 10_000 });
  });

  it('global settings that act elsewhere: gna interval with IPv6 VIPs, script_user with MISC_CHECK, smtp_alert_vrrp', () => {
    const v6 = 'vrrp_instance V6 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  2001:db8::1/128\n }\n}\n';
    assert.deepEqual(
      importKeepalived(`global_defs {\n vrrp_gna_interval 1\n}\n${v6}`, 'k.conf').lossy.map((f) => f.line),
      [2],
    );
    assert.deepEqual(importKeepalived(instance('', ' vrrp_gna_interval 1\n'), 'k.conf').lossy, []);
    const misc = 'virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n  MISC_CHECK {\n   misc_path /bin/true\n  }\n }\n}\n';
    assert.deepEqual(
      importKeepalived(`global_defs {\n script_user nobody\n}\n${misc}`, 'k.conf').lossy.map((f) => f.line),
      [2],
    );
    assert.deepEqual(
      importKeepalived(instance('', ' smtp_alert_vrrp true\n'), 'k.conf').lossy.map((f) => f.line),
      [2],
    );
  });

  it('a state MASTER without priority is the address owner (255), as in keepalived', async () => {
    assert.equal((await validate(importKeepalived(instance(' state MASTER'), 'k.conf'))).vrrp[0]!.priority, 255);
    assert.equal((await validate(importKeepalived(instance(' state BACKUP'), 'k.conf'))).vrrp[0]!.priority, 100);
  });

  it('refuses checks failoverd lacks (BFD_CHECK, FILE_CHECK): a dropped check would count the server as always up', () => {
    const r = importFixture('fwmark-misc.conf');
    assert.deepEqual(
      relative(r, 'lossy').map((w) => w.split(': ').slice(0, 2).join(': ')),
      ['fwmark-instances.conf:9: vrrp_unknown_keyword on', 'fwmark-misc.conf:8: include conf.d/*.conf'],
    );
    for (const check of ['BFD_CHECK', 'FILE_CHECK']) {
      const text = `virtual_server 192.0.2.1 53 {\n real_server 192.0.2.2 53 {\n  ${check} {\n  }\n }\n}\n`;
      assert.deepEqual(
        importKeepalived(text, 'k.conf').lossy.map((f) => [f.line, f.message.startsWith(check)]),
        [[3, true]],
      );
    }
  });

  it('fwmark, tunnels, MISC_CHECK and SSL_GET carry over and validate (with --allow-partial for the rest)', async () => {
    const config = await validate(importFixture('fwmark-misc.conf'));
    const [mark, tls] = config.services;
    assert.deepEqual(
      [mark!.fwmark, mark!.scheduler, mark!.scheduler_flags, mark!.forwarding, mark!.tunnel, mark!.persistence_netmask],
      [7, 'sh', ['port', 'fallback'], 'tun', { type: 'gue', port: 6080, checksum: 'csum' }, '255.255.255.0'],
    );
    assert.deepEqual(
      [mark!.real_servers[0]!.checks[0]!.type, mark!.real_servers[0]!.checks[0]!.options['command']],
      ['exec', ['/usr/local/bin/check-backend', '192.0.2.11']],
    );
    assert.deepEqual([tls!.vip, tls!.port, tls!.real_servers[0]!.checks[0]!.options['tls_verify']], ['192.0.2.100', 443, false]);
  });
});

describe('import-keepalived: virtual_server_group', () => {
  it('writes the group as one service (vips, fwmarks) over every kernel service of it, with the real servers once', async () => {
    const r = importFixture('server-group.conf');
    assert.deepEqual(r.lossy, []);
    const config = await validate(r);
    assert.equal(config.services.length, 1);
    const s = config.services[0]!;
    assert.deepEqual(
      s.members.map((m) => ('fwmark' in m ? m.fwmark : `${m.vip}:${m.port}`)),
      ['10.0.0.1:8080', '192.168.200.3:80', '192.168.200.4:80', '192.168.200.5:80', 1, 2],
    );
    assert.deepEqual(
      s.real_servers.map((rs) => `${rs.address}:${rs.port}`),
      ['192.168.201.1:80', '192.168.201.2:80'],
    );
    assert.deepEqual([s.name, s.scheduler, s.forwarding, s.persistence, s.vip_standalone], ['VSG_1', 'rr', 'nat', 50_000, true]);
    assert.match(r.yaml, /vips:\n\s+- address: 10\.0\.0\.1\n\s+port: 8080\n\s+- address: 192\.168\.200\.3-5\n\s+port: 80\n/);
  });

  it('refuses what a group cannot carry over, with the line: a bad range, mixed families, a portless NAT server', () => {
    const lossy = (text: string) => importKeepalived(text, 'k.conf').lossy.map((f) => `${f.line}: ${f.message}`);
    const server = (group: string, rs = 'real_server 10.0.0.1 80 {\n }') =>
      `virtual_server_group G {\n${group}\n}\nvirtual_server group G {\n lb_kind NAT\n ${rs}\n}\n`;
    assert.deepEqual(lossy(server(' 10.0.0.9-3 80')), ['2: 10.0.0.9-3 80: the range 10.0.0.9-3 ends before it starts']);
    assert.deepEqual(lossy(server(' 10.0.0.0/16 80')), [
      '2: 10.0.0.0/16 80: the range 10.0.0.0/16 has 65536 addresses, more than 1024 (each is a kernel service with every real server)',
    ]);
    assert.deepEqual(lossy(server(' 10.0.0.1 80\n 2001:db8::1 80')), [
      '1: virtual_server_group G: mixes IPv4 and IPv6: a failoverd service group has one address family',
    ]);
    assert.deepEqual(lossy(server(' 10.0.0.1 80', 'real_server 10.0.0.5 {\n }')), [
      '6: real_server 10.0.0.5 without a port: keepalived uses port 0 in a group; give it a port',
    ]);
  });

  it('per-real-server inhibit_on_failure and sorry_server_inhibit are carried over', async () => {
    const text = [
      'virtual_server 192.0.2.10 80 {',
      ' lb_kind DR',
      ' sorry_server 192.0.2.50 80',
      ' sorry_server_inhibit',
      ' real_server 192.0.2.21 80 {',
      '  inhibit_on_failure',
      '  TCP_CHECK {',
      '  }',
      ' }',
      ' real_server 192.0.2.22 80 {',
      '  TCP_CHECK {',
      '  }',
      ' }',
      '}',
    ].join('\n');
    const r = importKeepalived(text, 'k.conf');
    assert.deepEqual(r.lossy, []);
    const s = (await validate(r)).services[0]!;
    assert.equal(s.on_failure, 'remove');
    assert.deepEqual(
      s.real_servers.map((rs) => rs.on_failure),
      ['inhibit', 'remove'],
    );
    assert.deepEqual(s.sorry_server, { address: '192.0.2.50', port: 80, weight: 1, forwarding: 'dr', inhibit: true });
  });

  it('refuses a group that is not defined', () => {
    const r = importKeepalived('virtual_server group NOPE {\n lb_algo rr\n}\n', 'k.conf');
    assert.deepEqual(
      r.lossy.map((f) => [f.line, /no virtual_server_group NOPE/.test(f.message)]),
      [[1, true]],
    );
  });
});

describe('import-keepalived: macros, conditionals and sequences', () => {
  const text = [
    '$IF=eth1',
    '$VIPS= \\',
    '   192.0.2.10/32 \\',
    '   192.0.2.11/32',
    'vrrp_instance VI_1 {',
    '  interface $IF',
    '  virtual_router_id 51',
    '  @high priority 170',
    '  @low priority 85',
    '  @^high nopreempt',
    '  virtual_ipaddress {',
    '    $VIPS',
    '    ~SEQ(N, 20, 2, 24) 192.0.2.${N}/32',
    '  }',
    '}',
  ].join('\n');

  it('substitutes $NAME, picks the @NAME branch for --node, expands ~SEQ', async () => {
    const high = (await validate(importKeepalived(text, 'k.conf', { instance: 'high' }))).vrrp[0]!;
    assert.deepEqual([high.interface, high.priority, high.preempt], ['eth1', 170, true]);
    assert.deepEqual(
      high.vips.map((v) => v.address),
      ['192.0.2.10', '192.0.2.11', '192.0.2.20', '192.0.2.22', '192.0.2.24'],
    );
    const low = (await validate(importKeepalived(text, 'k.conf', { instance: 'low' }))).vrrp[0]!;
    assert.deepEqual([low.priority, low.preempt], [85, false]);
  });

  it('an undefined $NAME is refused, not written as text', () => {
    const r = importKeepalived(instance(' interface $NOPE'), 'k.conf');
    assert.deepEqual(
      r.lossy.map((f) => [f.line, f.message]),
      [[6, '$NOPE is not defined']],
    );
  });
});

describe('import-keepalived: output', () => {
  it('points $schema at the schema shipped with the package, which exists', () => {
    const first = importKeepalived(instance(''), 'k.conf').yaml.split('\n')[0]!;
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    assert.ok(m, first);
    const schema = JSON.parse(readFileSync(m[1]!, 'utf8')) as { $schema?: string };
    assert.match(String(schema.$schema), /json-schema\.org/);
  });

  it('explains per block what it became', () => {
    const r = importFixture('server-group.conf');
    assert.deepEqual(
      r.explanations.map((e) => [e.line, e.became]),
      [
        [1, 'the vips / fwmarks of every virtual_server that names it'],
        [8, 'services[0] VSG_1'],
      ],
    );
  });
});

describe('keepalived.conf parser', () => {
  it('reads comments, quotes, braces on their own line and blocks on one line', () => {
    const text = [
      '! comment',
      'vrrp_instance VI_1   # trailing comment',
      '{',
      '  authentication { auth_type PASS }',
      '  notify_master "/bin/notify a b"',
      '  virtual_ipaddress {',
      '    10.0.0.1/24 dev eth1',
      '  }',
      '}',
    ].join('\n');
    const { nodes, problems } = parseKeepalived(text, 'k.conf');
    assert.deepEqual(problems, []);
    const vi = nodes[0]!;
    assert.deepEqual([vi.keyword, vi.args, vi.line], ['vrrp_instance', ['VI_1'], 2]);
    const [auth, notify, vips] = vi.children!;
    assert.deepEqual(
      auth!.children!.map((c) => [c.keyword, c.args]),
      [['auth_type', ['PASS']]],
    );
    assert.deepEqual([notify!.keyword, notify!.args], ['notify_master', ['/bin/notify a b']]);
    assert.deepEqual(
      vips!.children!.map((c) => [c.keyword, c.args, c.line]),
      [['10.0.0.1/24', ['dev', 'eth1'], 7]],
    );
  });

  it('reports unbalanced braces with their line', () => {
    assert.deepEqual(parseKeepalived('a {\n b\n', 'k.conf').problems, [{ file: 'k.conf', line: 1, message: 'block "a" is not closed' }]);
    assert.deepEqual(parseKeepalived('}\n', 'k.conf').problems, [{ file: 'k.conf', line: 1, message: 'unbalanced "}"' }]);
  });

  it('inlines included files where the include stands, relative to the including file, following globs', () => {
    const files: Record<string, string> = {
      'conf/a.conf': 'x 1\n',
      'conf/d/1.conf': 'y 2\ninclude ../e.conf\n',
      'conf/d/2.conf': 'z 3\n',
      'conf/e.conf': 'w 4\n',
    };
    const { nodes, problems } = parseKeepalived('include a.conf\nblock {\n include d/*.conf\n}\n', 'conf/main.conf', {
      readFile: (p) => files[p],
      listDir: (d) =>
        Object.keys(files)
          .filter((f) => f.startsWith(`${d}/`))
          .map((f) => f.slice(d.length + 1)),
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(
      nodes.map((n) => n.keyword),
      ['x', 'block'],
    );
    assert.deepEqual(
      nodes[1]!.children!.map((n) => [n.keyword, n.file]),
      [
        ['y', 'conf/d/1.conf'],
        ['w', 'conf/e.conf'],
        ['z', 'conf/d/2.conf'],
      ],
    );
  });
});
