// The alerts section and secrets in the config: header names and values, template,
// webhook secrets, values never echoed in errors, and the world-readable warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigFile, loadConfigText } from '../../../src/config/index.js';
import { alertsFromConfig } from '../../../src/alerts/from-config.js';
import { WebhookDispatcher } from '../../../src/alerts/webhooks.js';
import { EventBus } from '../../../src/events.js';
import { ok, startReceiver, waitFor } from '../alerts/receiver.js';
import { BASE, errorsOf, load } from './config-text.js';

const webhook = (fields: string) => `${BASE}alerts:\n  webhooks:\n    - url: https://hooks.example/lvs\n${fields}`;

test('header names that are not HTTP tokens (CR, LF, spaces, colons) and values with CR/LF are refused with file:line:key', async () => {
  assert.deepEqual(errorsOf(webhook('      headers: { "X-Evil\\r\\nInjected": "1", "Bad Name": "2", "X-Fine": "a\\r\\nb" }\n')), [
    'failoverd.yaml:20:18 alerts.webhooks[0].headers["X-Evil\\r\\nInjected"]: expected a header name of letters, digits and !#$%&\'*+-.^_`|~ (no spaces, CR or LF)',
    'failoverd.yaml:20:45 alerts.webhooks[0].headers["Bad Name"]: expected a header name of letters, digits and !#$%&\'*+-.^_`|~ (no spaces, CR or LF)',
    'failoverd.yaml:20:72 alerts.webhooks[0].headers["X-Fine"]: expected a header value without CR, LF or other control characters',
  ]);
  assert.deepEqual(errorsOf(webhook('      headers: { Webhook-Signature: "v1,forged" }\n')), [
    'failoverd.yaml:20:18 alerts.webhooks[0].headers["Webhook-Signature"]: webhook-signature is set by failoverd and cannot be given here',
  ]);
  assert.equal(load(webhook('      headers: { Authorization: "Bearer abc", X-Team: ops }\n')).ok, true);

  // The http check's headers, through its own option schema.
  const http = BASE.replace(
    'check: { type: http, path: /healthz, interval: 2s, timeout: 1s }',
    'check: { type: http, path: /healthz, headers: { "X-A\\nB": "1", X-C: "d\\re" } }',
  );
  const r = loadConfigText(http, 'failoverd.yaml', { checkPlugins: await loadCheckPlugins(), env: {} });
  assert.equal(r.ok, false);
  const errors = r.ok ? [] : r.errors.map(formatConfigError);
  assert.equal(errors.length, 2, errors.join('\n'));
  assert.match(errors[0]!, /^failoverd\.yaml:13:\d+ services\[0\]\.check\.headers\["X-A\\nB"\]: expected a header name/);
  assert.match(errors[1]!, /^failoverd\.yaml:13:\d+ services\[0\]\.check\.headers\["X-C"\]: expected a header value without CR, LF/);
});

test('template: json, slack and { body } as docs/alerts.md documents them are accepted, and the body is what the receiver gets', async (t) => {
  for (const template of ['json', 'slack', '{ body: { text: "{{summary}}", prio: "{{data.priority}}" } }']) {
    const r = load(webhook(`      template: ${template}\n`));
    assert.equal(r.ok, true, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
  }
  assert.deepEqual(errorsOf(webhook('      template: xml\n')), [
    'failoverd.yaml:20:17 alerts.webhooks[0].template: expected json, slack or a mapping with body',
  ]);
  assert.deepEqual(errorsOf(webhook('      template: { title: x }\n')), [
    'failoverd.yaml:20:17 alerts.webhooks[0].template.body: missing required key (expected a body)',
    'failoverd.yaml:20:19 alerts.webhooks[0].template.title: unknown key',
  ]);

  const receiver = await startReceiver((_r, _i, res) => ok(res));
  t.after(() => receiver.close());
  const r = load(
    `${BASE}alerts:\n  webhooks:\n    - url: ${receiver.url}\n      template: { body: { text: "{{summary}}", prio: "{{data.priority}}" } }\n`,
  );
  assert.ok(r.ok);
  const bus = new EventBus('lvs-a');
  const dispatcher = new WebhookDispatcher(bus, alertsFromConfig(r.config.alerts).webhooks!);
  t.after(() => dispatcher.close());
  bus.publish({ type: 'vrrp.state', object: 'vrrp/web', from: 'BACKUP', to: 'MASTER', data: { priority: 150 } });
  await waitFor(() => receiver.received.length === 1, 'the delivery');
  assert.deepEqual(JSON.parse(receiver.received[0]!.body), { text: '[lvs-a] vrrp.state vrrp/web: BACKUP → MASTER', prio: 150 });
});

test('secret and secrets: whsec_ needs base64; both map to the signing keys', () => {
  assert.deepEqual(errorsOf(webhook('      secret: "whsec_not base64!"\n')), [
    'failoverd.yaml:20:15 alerts.webhooks[0].secret: expected whsec_ followed by non-empty base64 (or a secret without the whsec_ prefix, used as written)',
  ]);
  const r = load(webhook('      secret: old-raw-secret\n      secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]\n'));
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
  assert.deepEqual(alertsFromConfig(r.config.alerts).webhooks![0]!.secrets, ['old-raw-secret', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']);
});

test('config errors name the place and what is wrong, never the value (which may come from ${ENV})', () => {
  const canary = 'CANARY-7d1e-secret';
  const env = { TOKEN: canary, PASS: `${canary}-too-long`, NUM: '987654321' };
  const text = `${BASE.replace('priority: 150', 'priority: ${NUM}\n    auth: { password: "${PASS}" }')}alerts:
  webhooks:
    - url: "ftp://user:\${TOKEN}@hooks.example/x?token=\${TOKEN}"
      secret: "whsec_\${TOKEN}"
      headers: { Authorization: "Bearer \${TOKEN}\\r\\n" }
      retries: "\${TOKEN}"
      events: "\${TOKEN}"
`;
  const errors = errorsOf(text, env);
  assert.ok(errors.length >= 6, errors.join('\n'));
  for (const line of errors) {
    assert.ok(!line.includes(canary) && !line.includes('987654321'), `echoed a value: ${line}`);
    assert.match(line, /^failoverd\.yaml:\d+:\d+ \S+: /);
  }
});

test('a world-readable config file holding a secret gets a warning naming the file and the fix; ${ENV} secrets do not count', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const plugins = await loadCheckPlugins();
  const file = join(dir, 'failoverd.yaml');
  const warningsFor = async (text: string, mode: number): Promise<string[]> => {
    writeFileSync(file, text);
    chmodSync(file, mode);
    const r = await loadConfigFile(file, { checkPlugins: plugins, env: { ALERT_SECRET: 'from-env' } });
    assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
    return r.warnings.map(formatConfigError).filter((w) => w.includes('world-readable'));
  };
  const written = `${BASE.replace('priority: 150', 'priority: 150\n    version: 2\n    advert_interval: 1s\n    auth: { password: s3cret }')}alerts:
  webhooks:
    - { url: "https://user:pw@hooks.example/x", secret: plain }
    - { url: "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX" }
    - { url: "https://hooks.example/lvs", headers: { Authorization: "Bearer abc", X-Team: ops } }
`;
  assert.deepEqual(await warningsFor(written, 0o644), [
    `${file} warning: the file is world-readable and holds secrets (vrrp[0].auth.password, alerts.webhooks[0].secret, ` +
      'alerts.webhooks[0].url, alerts.webhooks[1].url, alerts.webhooks[2].headers.Authorization): ' +
      `chmod 640 ${file} (readable by root and its group only), or take them from the environment with \${NAME}`,
  ]);
  assert.deepEqual(await warningsFor(written, 0o640), []);
  const fromEnv = `${BASE}alerts:\n  webhooks:\n    - { url: "https://hooks.example/lvs", secret: "\${ALERT_SECRET}", headers: { Authorization: "Bearer \${ALERT_SECRET}" } }\n`;
  assert.deepEqual(await warningsFor(fromEnv, 0o644), []);
});
