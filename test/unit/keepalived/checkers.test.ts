// The checkers failoverd gained (SMTP, UDP, DNS, PING, HTTP digests) and the global IPVS
// settings (lvs_timeouts, lvs_sync_daemon): each keepalived snippet → the YAML the importer
// writes, which the loader accepts; or a refusal naming keepalived's file:line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigText, type FailoverdConfig } from '../../../src/config/index.js';
import { hexOf, keepalivedDefaultPayload, readHexStr, udpReplyPattern } from '../../../src/keepalived/hex.js';
import { formatFinding, importKeepalived, type ImportResult } from '../../../src/keepalived/import.js';

async function validate(result: ImportResult): Promise<FailoverdConfig> {
  assert.deepEqual(result.lossy.map(formatFinding), []);
  const loaded = loadConfigText(result.yaml, 'converted.yaml', { checkPlugins: await loadCheckPlugins(), env: {} });
  assert.ok(loaded.ok, loaded.ok ? '' : `${loaded.errors.map(formatConfigError).join('\n')}\n${result.yaml}`);
  return loaded.config;
}

/** A virtual_server with one real server (10.0.0.11:PORT) carrying CHECKER; the checker starts at line 5. */
const service = (checker: string, port = 25, outer = '') =>
  `virtual_server 192.0.2.1 ${port} {\n lb_kind DR\n${outer} real_server 10.0.0.11 ${port} {\n  weight 1\n${checker}\n }\n}\n`;

const imported = (text: string) => importKeepalived(text, 'k.conf');
const lossyLines = (r: ImportResult) => r.lossy.map((f) => `${f.file}:${f.line}: ${f.message.split(':')[0]}`);

async function onlyCheck(text: string) {
  const config = await validate(imported(text));
  const service = config.services[0]!;
  const checks = service.real_servers[0]!.checks;
  assert.equal(checks.length, 1);
  return checks[0]!;
}

describe('import-keepalived: SMTP_CHECK', () => {
  it("becomes an smtp check greeting with HELO, with keepalived's HELO name and timing defaults (connect_timeout 5s, retry 1, 1s between)", async () => {
    const r = imported(service('  SMTP_CHECK {\n  }'));
    assert.deepEqual(r.findings.map(formatFinding), [], 'the greeting is carried over: no warning');
    const check = await onlyCheck(service('  SMTP_CHECK {\n  }'));
    assert.deepEqual(
      [check.type, check.interval, check.timeout, check.retry, check.delay_before_retry, check.initial, check.options],
      [
        'smtp',
        60_000,
        5000,
        1,
        1000,
        'up',
        { helo_name: 'smtpchecker.keepalived.org', greeting: 'helo', starttls: false, tls_verify: true },
      ],
    );
  });

  it('carries helo_name, timings, and a host block naming the real server itself (connect_port, bindto)', async () => {
    const check = await onlyCheck(
      service(
        '  SMTP_CHECK {\n   connect_timeout 10\n   retry 2\n   delay_before_retry 5\n   helo_name "foo.bar.com"\n' +
          '   host {\n    connect_ip 10.0.0.11\n    connect_port 2525\n    bindto 10.0.0.2\n   }\n  }',
      ),
    );
    assert.deepEqual(
      [
        check.timeout,
        check.retry,
        check.delay_before_retry,
        check.options['helo_name'],
        check.options['connect_port'],
        check.options['bind_to'],
      ],
      [10_000, 2, 5000, 'foo.bar.com', 2525, '10.0.0.2'],
    );
  });

  it('refuses a connect_ip other than the real server (keepalived would check that address), with its line', () => {
    const r = imported(
      service('  SMTP_CHECK {\n   host {\n    connect_ip 10.0.0.11\n   }\n   host {\n    connect_ip 192.0.2.99\n   }\n  }'),
    );
    assert.deepEqual(lossyLines(r), ['k.conf:10: connect_ip 192.0.2.99']);
  });
});

describe('import-keepalived: UDP_CHECK', () => {
  it("refuses a UDP_CHECK without require_reply: keepalived counts silence as up, failoverd's udp check as down", () => {
    const r = imported(service('  UDP_CHECK {\n   connect_timeout 3\n  }', 53));
    assert.deepEqual(lossyLines(r), ['k.conf:5: UDP_CHECK']);
    assert.match(r.lossy[0]!.message, /no reply .* as up/);
  });

  it("require_reply without data: any reply is up; keepalived's own 32-byte payload is sent", async () => {
    const check = await onlyCheck(service('  UDP_CHECK {\n   require_reply\n  }', 53));
    assert.deepEqual([check.type, check.timeout, check.retry, check.delay_before_retry], ['udp', 5000, 1, 1000]);
    assert.deepEqual(check.options, { send_hex: keepalivedDefaultPayload() });
    assert.equal(Buffer.from(keepalivedDefaultPayload(), 'hex').toString('latin1'), 'keepalived check - keepalived ch');
  });

  it('payload and require_reply HEX_STR: sent as hex, and the reply checked as keepalived does', async () => {
    const check = await onlyCheck(
      service('  UDP_CHECK {\n   payload Ab12f 3\n   require_reply 0a x1\n   min_reply_length 1\n   max_reply_length 4\n  }', 53),
    );
    assert.equal(check.options['send_hex'], 'ab120f03');
    const expect = new RegExp(String(check.options['expect']));
    const reply = (hex: string) => expect.test(Buffer.from(hex, 'hex').toString('latin1'));
    // keepalived compares min(reply length, HEX_STR length) octets, the X nibble ignored, within [min, max] bytes.
    assert.deepEqual(['0a', '0a31', '0af1ffff', '0a', '', '0b31', '0a32', '0a31ffffff'].map(reply), [
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
  });

  it('reads HEX_STRs as keepalived (single digits, spaces, X nibbles) and refuses what it would not read', () => {
    assert.equal(hexOf(readHexStr('Ab12f 3 456 546443123', false)!), 'ab120f03450654644312' + '03');
    assert.equal(readHexStr('0x12', false), undefined, 'no wildcard in a payload');
    assert.deepEqual(readHexStr('x1 2X', true), [
      { value: 0x01, wild: 0xf0 },
      { value: 0x20, wild: 0x0f },
    ]);
    const anyByte = new RegExp(udpReplyPattern([{ value: 0, wild: 0xff }], 0, 255));
    assert.ok(anyByte.test('\u00ff') && anyByte.test('') && !anyByte.test('x'.repeat(256)));
    const r = imported(service('  UDP_CHECK {\n   payload 12zz\n   require_reply\n  }', 53));
    assert.deepEqual(lossyLines(r), ['k.conf:6: payload 12zz']);
  });
});

describe('import-keepalived: DNS_CHECK and PING_CHECK', () => {
  it("DNS_CHECK: keepalived's SOA of the root, retry 3, delay_before_retry = delay_loop; type and name carried", async () => {
    const plain = await onlyCheck(service('  DNS_CHECK {\n  }', 53, ' delay_loop 6\n'));
    assert.deepEqual(
      [
        plain.type,
        plain.interval,
        plain.retry,
        plain.delay_before_retry,
        plain.options['name'],
        plain.options['query_type'],
        plain.options['expect_rcode'],
      ],
      ['dns', 6000, 3, 6000, '.', 'SOA', 'NOERROR'],
    );
    const named = await onlyCheck(service('  DNS_CHECK {\n   type mx\n   name example.com\n   retry 1\n  }', 53));
    assert.deepEqual([named.options['query_type'], named.options['name'], named.retry], ['MX', 'example.com', 1]);
  });

  it('DNS_CHECK: refuses a query type the dns check cannot ask', () => {
    assert.deepEqual(lossyLines(imported(service('  DNS_CHECK {\n   type DNSKEY\n  }', 53))), ['k.conf:6: type DNSKEY']);
  });

  it("PING_CHECK: keepalived's 128-byte echo payload; its connect_port has no effect in either", async () => {
    const r = imported(service('  PING_CHECK {\n   connect_port 80\n   retry 4\n  }', 80));
    assert.ok(r.findings.some((f) => f.kind === 'warning' && f.line === 6));
    const check = await onlyCheck(service('  PING_CHECK {\n   retry 4\n  }', 80));
    assert.deepEqual([check.type, check.retry, check.options], ['ping', 4, { payload_bytes: 128 }]);
  });

  it('refuses connection settings the checks do not have (bind_if, bind_port, fwmark)', () => {
    const r = imported(service('  PING_CHECK {\n   bind_if eth1\n   fwmark 3\n  }', 80));
    assert.deepEqual(lossyLines(r), ['k.conf:6: bind_if eth1', 'k.conf:7: fwmark 3']);
  });
});

describe('import-keepalived: HTTP_GET / SSL_GET digest', () => {
  it('becomes the MD5 digest of the whole body (max_body_bytes at its largest), with status_code kept', async () => {
    const check = await onlyCheck(
      service(
        '  HTTP_GET {\n   url {\n    path /index.html\n    digest 9B3A0C85A887A256D6939DA88AABD8CD\n    status_code 200\n   }\n  }',
        80,
      ),
    );
    assert.deepEqual(
      [check.type, check.options['path'], check.options['digest'], check.options['max_body_bytes'], check.options['expect_status']],
      ['http', '/index.html', '9b3a0c85a887a256d6939da88aabd8cd', 16 << 20, [200]],
    );
  });

  it('refuses a digest keepalived would not read', () => {
    const r = imported(service('  HTTP_GET {\n   url {\n    path /\n    digest 9b3a\n   }\n  }', 80));
    assert.deepEqual(lossyLines(r), ['k.conf:8: digest 9b3a']);
  });
});

describe('import-keepalived: lvs_timeouts and lvs_sync_daemon', () => {
  const vrrp = 'vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  192.0.2.10/32\n }\n}\n';

  it('lvs_timeouts → ipvs.timeouts; 0 leaves the kernel value, as keepalived does', async () => {
    const config = await validate(imported(`global_defs {\n lvs_timeouts tcp 900 tcpfin 0 udp 300\n}\n${vrrp}`));
    assert.deepEqual(config.ipvs.timeouts, { tcp: 900_000, udp: 300_000 });
  });

  it('refuses lvs_timeouts it cannot read, with its line', () => {
    assert.deepEqual(lossyLines(imported(`global_defs {\n lvs_timeouts tcp 900 udpx 3\n}\n${vrrp}`)), [
      'k.conf:2: lvs_timeouts tcp 900 udpx 3',
    ]);
  });

  it('lvs_sync_daemon: id, maxlen, port, ttl and group reach the instance sync_daemon', async () => {
    const config = await validate(
      imported(`global_defs {\n lvs_sync_daemon eth0 inst VI_1 id 7 maxlen 1400 port 8849 ttl 2 group 224.0.0.82\n}\n${vrrp}`),
    );
    assert.deepEqual(config.vrrp[0]!.sync_daemon, { interface: 'eth0', sync_id: 7, group: '224.0.0.82', port: 8849, maxlen: 1400, ttl: 2 });
  });

  it('lvs_sync_daemon: the old "IF INSTANCE SYNCID" form; the sync id defaults to the VRID', async () => {
    const old = await validate(imported(`global_defs {\n lvs_sync_daemon eth0 VI_1 9\n}\n${vrrp}`));
    assert.deepEqual(old.vrrp[0]!.sync_daemon, { interface: 'eth0', sync_id: 9 });
    const plain = await validate(imported(`global_defs {\n lvs_sync_daemon eth0 inst VI_1\n}\n${vrrp}`));
    assert.deepEqual(plain.vrrp[0]!.sync_daemon, { interface: 'eth0', sync_id: 51 });
  });

  it('lvs_sync_daemon: refuses no instance (keepalived runs both daemons always), a unicast group, a maxlen out of range', () => {
    for (const args of ['eth0', 'eth0 inst VI_1 group 192.0.2.7', 'eth0 inst VI_1 maxlen 70000']) {
      assert.deepEqual(lossyLines(imported(`global_defs {\n lvs_sync_daemon ${args}\n}\n${vrrp}`)), [`k.conf:2: lvs_sync_daemon ${args}`]);
    }
  });
});
