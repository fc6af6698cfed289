// The man pages the .deb carries are generated, not written: failoverd(8) has a
// section for every command `failoverd --help` lists, with that command's own help,
// and failoverd.yaml(5) an entry for every key of config/schema.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const cli = join(root, 'dist/src/cli.js');

test('failoverd(8) and failoverd.yaml(5) say what the CLI help and the JSON Schema say', () => {
  const out = mkdtempSync(join(tmpdir(), 'failoverd-man-'));
  try {
    execFileSync(process.execPath, [join(root, 'packaging/man-pages.mjs'), out], { encoding: 'utf8' });
    const eight = readFileSync(join(out, 'failoverd.8'), 'utf8');
    const five = readFileSync(join(out, 'failoverd.yaml.5'), 'utf8');
    assert.match(eight, /^\.TH FAILOVERD 8 /);
    const commands = [...execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' }).matchAll(/^ {2}([a-z][a-z-]+) {2,}/gm)].map(
      (m) => m[1]!,
    );
    assert.ok(commands.includes('run') && commands.includes('check'), `commands found: ${commands.join(', ')}`);
    for (const command of commands) {
      assert.ok(eight.includes(`.SS ${command}\n`), `failoverd(8) has a section for ${command}`);
      const usage = execFileSync(process.execPath, [cli, command, '--help'], { encoding: 'utf8' }).split('\n')[0]!;
      assert.ok(eight.includes(usage.replace(/-/g, '\\-')), `failoverd(8) holds ${command}'s own help: ${usage}`);
    }
    assert.match(five, /^\.TH FAILOVERD\.YAML 5 /);
    const schema = JSON.parse(readFileSync(join(root, 'config/schema.json'), 'utf8')) as { properties: object };
    for (const key of Object.keys(schema.properties)) {
      assert.ok(five.includes(`.B ${key.replace(/-/g, '\\-')}\n`), `failoverd.yaml(5) has ${key}`);
    }
    assert.ok(five.includes('.B vrrp[].priority\n'), 'nested keys are listed with their path');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
