import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPluginSource, loadCheckPlugins, loadCheckPluginsOfTypes } from '../../../checks/index.js';

test('the plugin directory is discovered: tcp, http, https, exec, udp, dns, smtp, ping, dsr', async () => {
  const plugins = await loadCheckPlugins();
  assert.deepEqual([...plugins.keys()].sort(), ['dns', 'dsr', 'exec', 'http', 'https', 'ping', 'smtp', 'tcp', 'udp']);
  for (const p of plugins.values()) assert.ok(p.description.length > 10);
});

test('a new file is all a new check type takes; files without `plugin` are ignored; clashes are errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-plugins-'));
  try {
    const schema = `{ safeParse: (v) => ({ success: true, data: v }) }`;
    writeFileSync(
      join(dir, 'dns.js'),
      `export const plugin = { type: 'dns', description: 'resolves a name', options: ${schema}, run: async () => ({ ok: true, reason: 'ok', latencyMs: 0 }) };`,
    );
    writeFileSync(join(dir, 'helper.js'), 'export const notAPlugin = 1;');
    writeFileSync(join(dir, 'index.js'), 'throw new Error("index is never imported");');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const plugins = await loadCheckPlugins(dir);
    assert.deepEqual([...plugins.keys()], ['dns']);
    writeFileSync(
      join(dir, 'dns2.js'),
      `export const plugin = { type: 'dns', description: 'again', options: ${schema}, run: async () => ({}) };`,
    );
    await assert.rejects(loadCheckPlugins(dir), /check type "dns" is defined twice: dns\.js and dns2\.js/);
    rmSync(join(dir, 'dns2.js'));
    writeFileSync(join(dir, 'broken.js'), `export const plugin = { type: 'Broken' };`);
    await assert.rejects(loadCheckPlugins(dir), /broken\.js: "plugin" must have/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the named types only: each from the file named after it; names without such a file are skipped, no other file is imported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-plugins-'));
  try {
    const schema = `{ safeParse: (v) => ({ success: true, data: v }) }`;
    const plugin = (type: string) =>
      `export const plugin = { type: '${type}', description: 'a check of ${type}', options: ${schema}, run: async () => ({ ok: true, reason: 'ok', latencyMs: 0 }) };`;
    writeFileSync(join(dir, 'tcp.js'), plugin('tcp'));
    writeFileSync(join(dir, 'other.js'), plugin('named-otherwise'));
    writeFileSync(join(dir, 'heavy.js'), 'throw new Error("heavy is imported only when named");');
    const some = await loadCheckPluginsOfTypes(['tcp', 'tcp', 'other', 'nope', '../x', 'index'], dir);
    assert.deepEqual([...some.keys()], ['tcp'], 'other.js defines another type; nope has no file');
    await assert.rejects(loadCheckPluginsOfTypes(['heavy'], dir), /heavy is imported only when named/);
    rmSync(join(dir, 'heavy.js'));
    const source = checkPluginSource(dir);
    assert.deepEqual([...(await source.all()).keys()].sort(), ['named-otherwise', 'tcp']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checks/ as a source: the types a config names are the real plugins', async () => {
  const some = await checkPluginSource().ofTypes(['tcp', 'http']);
  const all = await loadCheckPlugins();
  assert.deepEqual([...some.keys()].sort(), ['http', 'tcp']);
  assert.equal(some.get('tcp')!.description, all.get('tcp')!.description);
});

test('option schemas: defaults, status ranges, bad keys and bad patterns are refused', async () => {
  const plugins = await loadCheckPlugins();
  const http = plugins.get('http')!.options;
  assert.deepEqual(http.parse({}), {
    method: 'GET',
    path: '/',
    headers: {},
    expect_status: ['200-299'],
    max_body_bytes: 65536,
    keepalive: false,
  });
  assert.ok(http.safeParse({ expect_status: [200, '300-302'] }).success);
  assert.ok(http.safeParse({ expect_status: 204 }).success);
  assert.equal(http.safeParse({ expect_status: ['2xx'] }).success, false);
  assert.equal(http.safeParse({ expect_body: '(' }).success, false);
  assert.equal(http.safeParse({ digest: 'abc' }).success, false);
  assert.equal(http.safeParse({ path: 'healthz' }).success, false);
  assert.equal(http.safeParse({ tls_verify: false }).success, false, 'TLS keys belong to https');
  const https = plugins.get('https')!.options;
  assert.deepEqual(https.parse({ tls_verify: false }).tls_verify, false);
  assert.equal(https.parse({}).tls_verify, true);
  const tcp = plugins.get('tcp')!.options;
  assert.ok(tcp.safeParse({ connect_port: 6379, send: 'PING\r\n', expect: '^\\+PONG', bind_to: '10.0.0.1' }).success);
  assert.equal(tcp.safeParse({ bind_to: 'eth0' }).success, false);
  assert.equal(tcp.safeParse({ connect_port: 70000 }).success, false);
  const exec = plugins.get('exec')!.options;
  assert.deepEqual(exec.parse({ command: ['/usr/local/bin/check', '--fast'] }), {
    command: ['/usr/local/bin/check', '--fast'],
    misc_dynamic: false,
    env: {},
  });
  assert.equal(exec.safeParse({ command: [] }).success, false);
});
