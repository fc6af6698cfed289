// keepalived's own doc/samples (copied as test data, see the NOTE there): each either
// imports with no lossy finding and passes the loader, or is refused naming the
// file:line of each construct that would behave differently (the lines, and why, are in
// test/fixtures/keepalived/sample-refusals.ts).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCheckPlugins } from '../../../checks/index.js';
import { formatConfigError, loadConfigText } from '../../../src/config/index.js';
import { importKeepalived } from '../../../src/keepalived/import.js';
import { SAMPLE_REFUSALS } from '../../fixtures/keepalived/sample-refusals.js';

const samples = fileURLToPath(new URL('../../../../test/fixtures/keepalived/samples/', import.meta.url));

describe("import-keepalived over keepalived's doc/samples", () => {
  const files = readdirSync(samples)
    .filter((f) => f.startsWith('keepalived.conf'))
    .sort();
  it('covers every sample kept', () => assert.deepEqual(files, Object.keys(SAMPLE_REFUSALS).sort()));
  for (const name of files) {
    it(`${name}: ${SAMPLE_REFUSALS[name]?.length ? 'refused at each lossy line' : 'imports and passes the loader'}`, async () => {
      const result = importKeepalived(readFileSync(`${samples}${name}`, 'utf8'), name, { instance: 'director-b' });
      assert.deepEqual(
        result.lossy.map((f) => f.line),
        SAMPLE_REFUSALS[name],
      );
      for (const f of result.lossy) assert.equal(f.file, name);
      if (result.lossy.length === 0) {
        const loaded = loadConfigText(result.yaml, name, { checkPlugins: await loadCheckPlugins(), env: {} });
        assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.map(formatConfigError).join('\n'));
      }
    });
  }
});
