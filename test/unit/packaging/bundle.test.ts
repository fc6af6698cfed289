// The shipped binary is the bundle (packaging/bundle.mjs, dist/bundle/src/cli.js); the
// tests run tsc's dist/. Both must do the same: the commands that need no root nor
// network print the same and exit the same, and the bundle's checks directory holds
// the same check types. Files found by path (package.json, config/schema.json,
// checks/, the worker entry) are where a bundle breaks, so these commands read them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckPlugins } from '../../../checks/index.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const tsc = join(root, 'dist/src/cli.js');
const bundle = join(root, 'dist/bundle/src/cli.js');

function run(cli: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the bundle is built beside tsc output', () => {
  assert.ok(existsSync(bundle), `${bundle} missing: npm run prepare builds it`);
});

const commands: string[][] = [
  ['version'],
  ['--help'],
  ['run', '--help'],
  ['lab', '--help'],
  ['status', '--help'],
  ['realserver', '--help'],
  ['check', '--config', 'config/failoverd.yaml'],
  ['check', '--config', 'test/fixtures/keepalived/director-a.conf'],
  ['import-keepalived', 'test/fixtures/keepalived/director-a.conf'],
  ['status', '--socket', join(root, 'no-such-failoverd.sock')],
];

for (const args of commands) {
  test(`failoverd ${args.join(' ')}: the bundle does what tsc's build does`, () => {
    const expected = run(tsc, args);
    const actual = run(bundle, args);
    assert.deepEqual(actual, expected);
  });
}

test('the bundle prints the package version', () => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  assert.deepEqual(run(bundle, ['version']), { status: 0, stdout: `failoverd ${version}\n`, stderr: '' });
});

test("the bundle's checks directory defines the same check types", async () => {
  const ours = await loadCheckPlugins();
  const bundled = await loadCheckPlugins(join(root, 'dist/bundle/checks'));
  assert.ok(ours.size > 0);
  assert.deepEqual([...bundled.keys()], [...ours.keys()]);
});
