import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatConfigError, loadConfigFile, type CheckPluginRegistry, type CheckPluginSource } from '../../../src/config/index.js';
import { fakePlugins } from './fake-plugins.js';
import { BASE, edit, errorsOf, load } from './config-text.js';

describe('config loader: a valid file', () => {
  it('gives typed values with defaults, durations in ms and checks resolved per real server', () => {
    const r = load(BASE);
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    const c = r.config;
    assert.equal(c.node.name, 'lvs-a');
    assert.deepEqual(c.vrrp[0]!.vips, [{ address: '10.6.2.195', prefix: 32 }]);
    assert.equal(c.vrrp[0]!.version, 3);
    assert.equal(c.vrrp[0]!.advert_interval, 1000);
    assert.equal(c.services[0]!.family, 'inet');
    assert.equal(c.services[0]!.forwarding, 'dr');
    const [rs1, rs2] = c.services[0]!.real_servers;
    assert.equal(rs1!.port, 80);
    assert.deepEqual(rs1!.checks, [
      {
        type: 'http',
        interval: 2000,
        timeout: 1000,
        rise: 2,
        fall: 3,
        warmup: 0,
        retry: 0,
        delay_before_retry: 1000,
        initial: 'down',
        options: { path: '/healthz', expect_status: [200] },
      },
    ]);
    // A server's own check replaces the service's but inherits its timing.
    assert.deepEqual(rs2!.checks, [
      {
        type: 'tcp',
        interval: 2000,
        timeout: 1000,
        rise: 2,
        fall: 3,
        warmup: 0,
        retry: 0,
        delay_before_retry: 1000,
        initial: 'down',
        options: {},
      },
    ]);
    assert.equal(c.on_stop, 'keep');
    assert.equal(c.api.metrics, '127.0.0.1:9595');
    assert.deepEqual(r.warnings, []);
  });

  it('takes the host name when node.name is absent', () => {
    const r = load(BASE.replace('node: { name: lvs-a }\n', ''));
    assert.ok(r.ok);
    assert.equal(r.config.node.name, 'testhost');
  });

  it('parses durations with every unit', () => {
    const r = load(edit(13, '    check: { type: tcp, interval: 1m30s, timeout: 250ms, warmup: 1h, delay_before_retry: 1.5s }'));
    assert.ok(r.ok);
    const check = r.config.services[0]!.checks[0]!;
    assert.deepEqual([check.interval, check.timeout, check.warmup, check.delay_before_retry], [90_000, 250, 3_600_000, 1500]);
  });
});

describe('config loader: every error names file:line:col, key path and what was expected', () => {
  it('YAML syntax error', () => {
    assert.deepEqual(errorsOf(edit(12, '    scheduler: [wlc')), [
      'failoverd.yaml:13:5 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  it('duplicate key', () => {
    const errors = errorsOf(edit(12, '    port: 81'));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^failoverd\.yaml:12:5 YAML syntax error: Map keys must be unique/);
  });

  it('unknown key, at the key, with a suggestion', () => {
    assert.deepEqual(errorsOf(edit(12, '    schedular: wlc')), [
      'failoverd.yaml:12:5 services[0].schedular: unknown key (did you mean "scheduler"?)',
    ]);
  });

  it('a key of another section is not suggested as itself', () => {
    assert.deepEqual(errorsOf(edit(12, '    address: 10.6.2.195')), [
      'failoverd.yaml:12:5 services[0].address: unknown key (a key of another section, not of this one)',
    ]);
  });

  it("unknown check option, checked by the plugin's own schema", () => {
    assert.deepEqual(errorsOf(edit(13, '    check: { type: http, pth: /healthz }')), [
      'failoverd.yaml:13:26 services[0].check.pth: unknown key for check type http (it takes expect_status, path; every check takes interval, timeout, rise, fall, warmup, retry, delay_before_retry, initial)',
    ]);
  });

  it('bad check option value', () => {
    assert.deepEqual(errorsOf(edit(13, '    check: { type: http, path: healthz }')), [
      'failoverd.yaml:13:32 services[0].check.path: expected a string with the expected prefix',
    ]);
  });

  it('missing check option the plugin requires points at the check mapping', () => {
    assert.deepEqual(errorsOf(edit(13, '    check: { type: exec }')), [
      'failoverd.yaml:13:12 services[0].check.command: missing required key (expected a string)',
    ]);
  });

  it('unknown check type', () => {
    assert.deepEqual(errorsOf(edit(13, '    check: { type: htp }')), [
      'failoverd.yaml:13:20 services[0].check.type: expected one of exec, http, tcp',
    ]);
  });

  it('wrong type', () => {
    assert.deepEqual(errorsOf(edit(5, '    vrid: fifty-one')), ['failoverd.yaml:5:11 vrrp[0].vrid: expected a number, got a string']);
  });

  it('number out of range', () => {
    assert.deepEqual(errorsOf(edit(6, '    priority: 256')), ['failoverd.yaml:6:15 vrrp[0].priority: expected a number ≤ 255']);
  });

  it('bad enum', () => {
    assert.deepEqual(errorsOf(edit(12, '    scheduler: wlcc')), [
      'failoverd.yaml:12:16 services[0].scheduler: expected one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos',
    ]);
  });

  it('bad duration: words, and a bare number', () => {
    assert.deepEqual(errorsOf(edit(13, '    check: { type: http, interval: 2 seconds, timeout: 1000 }')), [
      'failoverd.yaml:13:36 services[0].check.interval: expected a duration like 250ms, 2s or 1m',
      'failoverd.yaml:13:56 services[0].check.timeout: expected a duration like 250ms, 2s or 1m, got an integer',
    ]);
  });

  it('bad IP address', () => {
    assert.deepEqual(errorsOf(edit(15, '      - { address: 10.6.2.300, weight: 1 }')), [
      'failoverd.yaml:15:20 services[0].real_servers[0].address: expected an IPv4 or IPv6 address',
    ]);
  });

  it('bad VIP prefix', () => {
    assert.deepEqual(errorsOf(edit(7, '    vips: [10.6.2.195/33]')), [
      'failoverd.yaml:7:12 vrrp[0].vips[0]: expected an IP address with an optional prefix length, like 10.6.2.195/32',
    ]);
  });

  it('missing required key points at the parent mapping', () => {
    assert.deepEqual(errorsOf(edit(4, '    intreface: eth0')), [
      'failoverd.yaml:3:5 vrrp[0].interface: missing required key (expected a string)',
      'failoverd.yaml:4:5 vrrp[0].intreface: unknown key (did you mean "interface"?)',
    ]);
  });

  it('environment variable unset, at the reference', () => {
    assert.deepEqual(errorsOf(edit(6, '    priority: ${PRIO}')), [
      'failoverd.yaml:6:15 vrrp[0].priority: environment variable PRIO is not set (write ${PRIO:-default} to give a default)',
    ]);
  });

  it('reports every error, in file order', () => {
    const text = edit(6, '    priority: 0')
      .replace('scheduler: wlc', 'scheduler: fast')
      .replace('weight: 1 }\n      - { address: 10.6.2.192', 'weight: -1 }\n      - { address: 10.6.2.192');
    assert.deepEqual(errorsOf(text), [
      'failoverd.yaml:6:15 vrrp[0].priority: expected a number ≥ 1',
      'failoverd.yaml:12:16 services[0].scheduler: expected one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos',
      'failoverd.yaml:15:40 services[0].real_servers[0].weight: expected a number ≥ 0',
    ]);
  });

  it('an empty file and a file that is not a mapping', () => {
    assert.deepEqual(errorsOf(''), ['failoverd.yaml:1:1 the file is empty: expected a mapping with node, vrrp, services, …']);
    assert.deepEqual(errorsOf('- a\n- b\n'), ['failoverd.yaml:1:1 expected a mapping, got a list']);
  });

  it('a missing file is an error naming the path', async () => {
    const r = await loadConfigFile('/nonexistent/failoverd.yaml', { checkPlugins: fakePlugins });
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.errors.map(formatConfigError), ['/nonexistent/failoverd.yaml cannot read the config file: no such file']);
  });
});

describe('config loader: ${ENV} substitution', () => {
  it('substitutes, re-types plain scalars and keeps quoted ones strings', () => {
    const text = `${edit(6, '    priority: ${PRIO}')}alerts:\n  webhooks:\n    - { url: "https://\${HOOK_HOST:-hooks.example}/x", secret: "\${SECRET}" }\n`;
    const r = load(text, { PRIO: '120', SECRET: '123' });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    assert.equal(r.config.vrrp[0]!.priority, 120);
    assert.equal(r.config.alerts.webhooks[0]!.url, 'https://hooks.example/x');
    assert.equal(r.config.alerts.webhooks[0]!.secret, '123');
  });

  it('"$${" is a literal "${"', () => {
    const r = load(`${BASE}alerts:\n  notify:\n    - { program: "/usr/local/bin/x$\${y}" }\n`);
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    assert.equal(r.config.alerts.notify[0]!.program, '/usr/local/bin/x${y}');
  });

  it('a malformed reference is an error', () => {
    assert.deepEqual(errorsOf(edit(4, '    interface: ${1IF}')), [
      'failoverd.yaml:4:16 vrrp[0].interface: "${1IF}" is not a variable reference: expected ${NAME} or ${NAME:-default}',
    ]);
  });
});

describe('config loader: check types from a source (only the ones the file names load)', () => {
  /** fakePlugins as a source that records what was asked of it. */
  function recordingSource(): { source: CheckPluginSource; asked: string[][]; all: () => number } {
    const asked: string[][] = [];
    let allCalls = 0;
    const source: CheckPluginSource = {
      ofTypes: (types) => {
        const list = [...types];
        asked.push(list);
        return Promise.resolve(new Map([...fakePlugins].filter(([type]) => list.includes(type))) as CheckPluginRegistry);
      },
      all: () => {
        allCalls++;
        return Promise.resolve(fakePlugins);
      },
    };
    return { source, asked, all: () => allCalls };
  }

  async function loadText(text: string, checkPlugins: CheckPluginRegistry | CheckPluginSource) {
    const dir = mkdtempSync(join(tmpdir(), 'failoverd-loader-'));
    try {
      writeFileSync(join(dir, 'failoverd.yaml'), text);
      return await loadConfigFile(join(dir, 'failoverd.yaml'), { checkPlugins });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('a valid file loads the types it names and no other; the result says which', async () => {
    const { source, asked, all } = recordingSource();
    const r = await loadText(BASE, source);
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    assert.ok(asked[0]!.includes('http') && asked[0]!.includes('tcp'));
    assert.equal(all(), 0, 'every type is loaded only when the named ones do not validate');
    assert.deepEqual([...r.checkPlugins.keys()].sort(), ['http', 'tcp']);
  });

  it('no check, no type loaded', async () => {
    const { source, all } = recordingSource();
    const r = await loadText('node: { name: lvs-a }\nservices: []\n', source);
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    assert.equal(r.checkPlugins.size, 0);
    assert.equal(all(), 0);
  });

  it('a type the scan misses (${VAR}) or an unknown one: every type decides, with the same outcome and messages as the full set', async () => {
    const viaEnv = BASE.replace('check: { type: tcp }', 'check: { type: "${CHECK_TYPE:-tcp}" }');
    const { source, all } = recordingSource();
    const r = await loadText(viaEnv, source);
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    assert.equal(all(), 1);

    const unknown = BASE.replace('check: { type: tcp }', 'check: { type: tpc }');
    const lazy = await loadText(unknown, recordingSource().source);
    const full = await loadText(unknown, fakePlugins);
    assert.equal(lazy.ok, false);
    assert.deepEqual(
      !lazy.ok && lazy.errors.map((e) => `${e.line}:${e.column} ${e.path} ${e.message}`),
      !full.ok && full.errors.map((e) => `${e.line}:${e.column} ${e.path} ${e.message}`),
    );
  });
});
