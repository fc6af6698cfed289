// `failoverd maintenance on|off|status`: the marker the config names, created and
// removed by name; strict arguments; a config without a maintenance_file is an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../../src/commands/command.js';
import { command } from '../../../src/commands/maintenance.js';

const CLI = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));

function setup(t: { after(fn: () => void): void }, routing: string) {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-maint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'failoverd.yaml');
  const marker = join(dir, 'maintenance');
  writeFileSync(
    config,
    `node: { name: d1 }
services:
  - { name: web, vip: 10.9.9.9, port: 80, scheduler: mh, real_servers: [{ address: 10.9.1.21 }] }
routing:
${routing.replace('MARKER', marker)}  announce: [{ name: web, vips: [10.9.9.9] }]
`,
  );
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'maintenance', ...args, '--config', config], { encoding: 'utf8', timeout: 60_000 });
  return { config, marker, cli };
}

test('on creates the file the config names, status reports it, off removes it; each twice is harmless', (t) => {
  const s = setup(t, '  maintenance_file: MARKER\n');
  let r = s.cli('status');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `maintenance: off (${s.marker} absent)\n`);
  r = s.cli('on');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^maintenance: on \(.* created\); the agent withdraws every announcement/);
  assert.ok(existsSync(s.marker));
  const text = readFileSync(s.marker, 'utf8');
  r = s.cli('on');
  assert.match(r.stdout, /^maintenance: already on since /);
  assert.equal(readFileSync(s.marker, 'utf8'), text, 'an existing marker is kept as it is');
  assert.match(s.cli('status').stdout, /^maintenance: on since \S+ \(/);
  r = s.cli('off');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^maintenance: off \(.* removed\)/);
  assert.equal(existsSync(s.marker), false);
  assert.match(s.cli('off').stdout, /^maintenance: already off/);
});

test('a config without routing.maintenance_file, or an invalid one, is exit 1 with the reason', (t) => {
  const s = setup(t, '');
  const r = s.cli('on');
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `${s.config} sets no routing.maintenance_file: add one to use maintenance (docs/ecmp.md)\n`);
  const bad = setup(t, '  maintenance_file: relative/path\n');
  const b = bad.cli('status');
  assert.equal(b.status, 1);
  assert.match(b.stderr, /failoverd\.yaml:5:\d+ routing\.maintenance_file: expected an absolute path/);
});

test('arguments are strict: an action is needed, one of on, off, status; no extra argument, no unknown flag', async () => {
  const usage = async (argv: string[]): Promise<string> => {
    try {
      await command.run(argv);
    } catch (err) {
      if (err instanceof UsageError) return err.message;
      throw err;
    }
    return assert.fail('no usage error');
  };
  assert.equal(await usage([]), 'maintenance needs on, off or status');
  assert.equal(await usage(['yes']), 'maintenance takes on, off or status, not "yes"');
  assert.equal(await usage(['on', 'now']), 'unexpected argument "now"');
  assert.equal(await usage(['on', '--force']), 'unknown option --force');
  assert.equal(await usage(['on', '--config']), '--config needs a value');
});
