// The committed config/schema.json and example configs against the real check plugins.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCheckPlugins } from '../../../checks/index.js';
import { configJsonSchemaText, formatConfigError, loadConfigFile } from '../../../src/config/index.js';

// Compiled to dist*/test/unit/config/: four levels up is the repository.
const repo = fileURLToPath(new URL('../../../../', import.meta.url));

describe('published config artefacts', () => {
  it('config/schema.json is what the zod schema generates (regenerate: node dist/src/config/json-schema.js)', async () => {
    const committed = readFileSync(`${repo}config/schema.json`, 'utf8');
    assert.equal(committed, configJsonSchemaText(await loadCheckPlugins()), 'config/schema.json is stale');
  });

  it('the JSON Schema lists each check type with its own keys', async () => {
    const schema = JSON.parse(configJsonSchemaText(await loadCheckPlugins())) as {
      $defs: Record<string, { anyOf?: Array<{ properties: Record<string, { const?: string }> }> }>;
    };
    const variants = schema.$defs['Check']!.anyOf!;
    const http = variants.find((v) => v.properties['type']!.const === 'http');
    assert.ok(http, 'an http variant');
    for (const key of ['path', 'expect_status', 'interval', 'rise']) assert.ok(key in http.properties, key);
  });

  for (const name of ['failoverd.yaml', 'lab-a.yaml', 'lab-b.yaml']) {
    it(`config/${name} passes validation without warnings`, async () => {
      const r = await loadConfigFile(`${repo}config/${name}`, { checkPlugins: await loadCheckPlugins(), env: {} });
      assert.ok(r.ok, r.ok ? '' : r.errors.map(formatConfigError).join('\n'));
      assert.deepEqual(r.warnings.map(formatConfigError), []);
    });
  }

  it('the two lab directors differ only in name, priority and socket', async () => {
    const plugins = await loadCheckPlugins();
    const [a, b] = await Promise.all(
      ['lab-a.yaml', 'lab-b.yaml'].map((n) => loadConfigFile(`${repo}config/${n}`, { checkPlugins: plugins, env: {} })),
    );
    assert.ok(a?.ok && b?.ok);
    assert.deepEqual([a.config.vrrp[0]!.priority, b.config.vrrp[0]!.priority], [150, 100]);
    const strip = (c: typeof a.config) => ({
      ...c,
      node: {},
      api: { ...c.api, listen: '' },
      vrrp: c.vrrp.map((v) => ({ ...v, priority: 0 })),
    });
    assert.deepEqual(strip(a.config), strip(b.config));
    assert.deepEqual(
      a.config.services[0]!.real_servers.map((rs) => rs.address),
      ['10.6.2.191', '10.6.2.192'],
    );
    assert.equal(a.config.services[0]!.checks[0]!.options['path'], '/');
  });
});
