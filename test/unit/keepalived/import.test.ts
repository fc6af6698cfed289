import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigText, type FailoverdConfig } from '../../../src/config/index.js';
import { formatImportWarning, importKeepalived } from '../../../src/keepalived/import.js';
import { parseKeepalived } from '../../../src/keepalived/parse.js';

const fixtures = fileURLToPath(new URL('../../../../test/fixtures/keepalived/', import.meta.url));

async function importFixture(name: string): Promise<{ config: FailoverdConfig; warnings: string[] }> {
  const file = `${fixtures}${name}`;
  const result = importKeepalived(readFileSync(file, 'utf8'), file);
  const loaded = loadConfigText(result.yaml, 'converted.yaml', { checkPlugins: await loadCheckPlugins(), env: {} });
  assert.ok(loaded.ok, loaded.ok ? '' : `${loaded.errors.map(formatConfigError).join('\n')}\n${result.yaml}`);
  return { config: loaded.config, warnings: result.warnings.map(formatImportWarning).map((w) => w.replace(fixtures, '')) };
}

describe('import-keepalived: two instances in a sync group, HTTP_GET and TCP_CHECK services', () => {
  it('produces a config that validates and carries the values over', async () => {
    const { config } = await importFixture('director-a.conf');
    assert.equal(config.node.name, 'LVS_A');
    const [web, mail] = config.vrrp;
    assert.deepEqual(
      [web!.name, web!.interface, web!.vrid, web!.priority, web!.version, web!.advert_interval, web!.preempt, web!.auth, web!.sync_group],
      ['VI_WEB', 'eth0', 51, 150, 2, 1000, true, { password: 's3cret' }, 'VG_1'],
    );
    assert.deepEqual(web!.vips, [{ address: '10.6.2.195', prefix: 32, interface: 'eth0', label: 'eth0:web' }]);
    assert.deepEqual(web!.track.interfaces, [{ name: 'eth0', weight: 0 }, { name: 'eth1', weight: -20 }]);
    assert.deepEqual(web!.sync_daemon, { interface: 'eth0', sync_id: 51 });
    assert.equal(web!.garp.refresh, 60_000);
    assert.equal(web!.garp.delay, 2000, "vrrp_garp_master_delay");
    assert.deepEqual(
      [mail!.name, mail!.vrid, mail!.advert_interval, mail!.preempt, mail!.unicast_source, mail!.unicast_peers, mail!.sync_group],
      ['VI_MAIL', 52, 2000, false, '10.6.2.188', ['10.6.2.189'], 'VG_1'],
    );
    assert.deepEqual(mail!.vips, [{ address: '10.6.2.196', prefix: 32 }]);

    const [http, smtp] = config.services;
    assert.deepEqual(
      [http!.vip, http!.port, http!.protocol, http!.scheduler, http!.forwarding, http!.persistence, http!.quorum, http!.on_failure, http!.vip_standalone],
      ['10.6.2.195', 80, 'tcp', 'wlc', 'dr', 50_000, 1, 'remove', false],
    );
    assert.deepEqual(http!.sorry_server, { address: '10.6.2.200', port: 8080, weight: 1, forwarding: 'dr' });
    assert.deepEqual(http!.real_servers.map((rs) => [rs.address, rs.port, rs.weight]), [['10.6.2.191', 80, 3], ['10.6.2.192', 80, 2]]);
    const httpCheck = http!.real_servers[1]!.checks[0]!;
    assert.deepEqual(
      { ...httpCheck, options: { path: httpCheck.options['path'], expect_status: httpCheck.options['expect_status'] } },
      { type: 'http', interval: 6000, timeout: 3000, rise: 1, fall: 1, warmup: 0, retry: 3, delay_before_retry: 2000, initial: 'down', options: { path: '/healthz', expect_status: [200] } },
    );
    assert.deepEqual([smtp!.vip, smtp!.port, smtp!.scheduler, smtp!.on_failure], ['10.6.2.196', 25, 'rr', 'inhibit']);
    const tcpCheck = smtp!.real_servers[0]!.checks[0]!;
    assert.deepEqual(
      [tcpCheck.type, tcpCheck.interval, tcpCheck.timeout, tcpCheck.retry, tcpCheck.delay_before_retry, tcpCheck.initial, tcpCheck.options['connect_port']],
      ['tcp', 10_000, 5000, 2, 3000, 'up', 25],
    );
    assert.deepEqual(config.alerts.notify.map((n) => [n.program, n.events]), [
      ['/etc/keepalived/notify.sh', ['vrrp.state']],
      ['/usr/local/bin/mail-down.sh', ['realserver.*']],
    ]);
  });

  it('warns about each thing it cannot carry over, with the keepalived file:line', async () => {
    const { warnings } = await importFixture('director-a.conf');
    const lines = warnings.map((w) => w.split(': ')[0]);
    assert.deepEqual(lines, [
      'director-a.conf:5', 'director-a.conf:8', 'director-a.conf:9', 'director-a.conf:10', // email settings
      'director-a.conf:22', // sync group notify
      'director-a.conf:26', 'director-a.conf:45', // state MASTER
      'director-a.conf:62', // track_script
      'director-a.conf:122', // notify_down
    ]);
    assert.match(warnings[7]!, /^director-a\.conf:62: track_script: not carried over \(failoverd has no VRRP track scripts/);
  });
});

describe('import-keepalived: fwmark, tunnels, MISC_CHECK, SSL_GET and include', () => {
  it('carries them over and validates', async () => {
    const { config } = await importFixture('fwmark-misc.conf');
    assert.equal(config.node.name, 'edge-1');
    const edge = config.vrrp[0]!;
    assert.deepEqual([edge.name, edge.interface, edge.vrid, edge.priority, edge.version, edge.advert_interval], ['EDGE', 'bond0', 7, 200, 3, 500]);
    const [mark, tls] = config.services;
    assert.deepEqual(
      [mark!.fwmark, mark!.family, mark!.scheduler, mark!.scheduler_flags, mark!.forwarding, mark!.tunnel, mark!.persistence, mark!.persistence_netmask],
      [7, 'inet', 'sh', ['port', 'fallback'], 'tun', { type: 'gue', port: 6080, checksum: 'csum' }, 360_000, '255.255.255.0'],
    );
    const rs = mark!.real_servers[0]!;
    assert.deepEqual([rs.address, rs.weight, rs.upper_threshold], ['192.0.2.11', 10, 1000]);
    assert.deepEqual(
      [rs.checks[0]!.type, rs.checks[0]!.timeout, rs.checks[0]!.interval, rs.checks[0]!.options['command'], rs.checks[0]!.options['misc_dynamic']],
      ['exec', 4000, 5000, '/usr/local/bin/check-backend 192.0.2.11', true],
    );
    assert.deepEqual([tls!.vip, tls!.port, tls!.forwarding, tls!.scheduler], ['192.0.2.100', 443, 'nat', 'lc']);
    const https = tls!.real_servers[0]!;
    assert.equal(https.port, 8443);
    assert.deepEqual(
      [https.checks[0]!.type, https.checks[0]!.options['path'], https.checks[0]!.options['expect_status'], https.checks[0]!.options['host'], https.checks[0]!.options['tls_verify']],
      ['https', '/status', ['200-299', 301], 'www.example.com', false],
    );
  });

  it('warns about the unmatched include, the MD5 digest, SMTP_CHECK and unknown keywords in included files', async () => {
    const { warnings } = await importFixture('fwmark-misc.conf');
    assert.deepEqual(warnings.map((w) => w.split(': ').slice(0, 2).join(': ')), [
      'fwmark-instances.conf:9: vrrp_unknown_keyword on',
      'fwmark-misc.conf:8: include conf.d/*.conf',
      'fwmark-misc.conf:38: SSL_GET',
      'fwmark-misc.conf:41: digest 9b3a0c85a887a256d6939da88aabd8cd',
      'fwmark-misc.conf:46: SMTP_CHECK',
    ]);
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
    assert.equal(nodes.length, 1);
    const vi = nodes[0]!;
    assert.deepEqual([vi.keyword, vi.args, vi.line], ['vrrp_instance', ['VI_1'], 2]);
    const [auth, notify, vips] = vi.children!;
    assert.deepEqual(auth!.children!.map((c) => [c.keyword, c.args]), [['auth_type', ['PASS']]]);
    assert.deepEqual([notify!.keyword, notify!.args], ['notify_master', ['/bin/notify a b']]);
    assert.deepEqual(vips!.children!.map((c) => [c.keyword, c.args, c.line]), [['10.0.0.1/24', ['dev', 'eth1'], 7]]);
  });

  it('reports unbalanced braces with their line', () => {
    assert.deepEqual(parseKeepalived('a {\n b\n', 'k.conf').problems, [{ file: 'k.conf', line: 1, message: 'block "a" is not closed' }]);
    assert.deepEqual(parseKeepalived('}\n', 'k.conf').problems, [{ file: 'k.conf', line: 1, message: 'unbalanced "}"' }]);
  });

  it('inlines included files where the include stands, following globs', () => {
    const files: Record<string, string> = { 'conf/a.conf': 'x 1\n', 'conf/d/1.conf': 'y 2\n', 'conf/d/2.conf': 'z 3\n' };
    const { nodes, problems } = parseKeepalived('include a.conf\nblock {\n include d/*.conf\n}\n', 'conf/main.conf', {
      readFile: (p) => files[p],
      listDir: (d) => Object.keys(files).filter((f) => f.startsWith(`${d}/`)).map((f) => f.slice(d.length + 1)),
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(nodes.map((n) => n.keyword), ['x', 'block']);
    assert.deepEqual(nodes[1]!.children!.map((n) => [n.keyword, n.file]), [['y', 'conf/d/1.conf'], ['z', 'conf/d/2.conf']]);
  });
});
