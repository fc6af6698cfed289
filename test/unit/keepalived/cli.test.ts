// The import-keepalived command as an operator runs it: exit status and one clear line.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../../test/fixtures/keepalived/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ka-import-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'import-keepalived', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('failoverd import-keepalived: input that is not a keepalived.conf', () => {
  const random = Buffer.alloc(3072);
  for (let i = 0; i < random.length; i++) random[i] = (i * 7919 + 13) % 251;
  const inputs: Array<[string, string | Buffer, RegExp]> = [
    ['prose', 'Dear operator,\nplease migrate the directors by Friday.\nThanks!\n', /not a keepalived\.conf/],
    ['random bytes', random, /not a text file/],
    ['an empty file', '', /empty/],
  ];
  for (const [what, content, message] of inputs) {
    it(`${what}: exit 1, one line on stderr, nothing on stdout`, () => {
      const file = join(dir, what.replace(/ /g, '-'));
      writeFileSync(file, content);
      const r = run(file);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
    });
  }
  it('a directory: exit 1, one line', () => {
    const r = run(dir);
    assert.deepEqual([r.status, r.stdout, r.stderr.trim().split('\n').length], [1, '', 1]);
    assert.match(r.stderr, /is a directory/);
  });
  it('a missing output directory: a clear message, not a bare ENOENT', () => {
    const r = run(`${fixtures}server-group.conf`, '--output', join(dir, 'nope', 'out.yaml'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the directory .*nope does not exist/);
    assert.doesNotMatch(r.stderr, /ENOENT/);
  });
});

describe('failoverd import-keepalived: lossy input', () => {
  // Three constructs with no faithful equivalent: AH, a script run as another user, notify_deleted.
  const lossy = join(dir, 'lossy.conf');
  writeFileSync(
    lossy,
    'vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n authentication {\n  auth_type AH\n  auth_pass x\n }\n' +
      ' notify_master /bin/m nobody\n notify_deleted /bin/d\n virtual_ipaddress {\n  192.0.2.10/32\n }\n}\n',
  );
  it('refuses: exit 1, each lossy construct with file:line, nothing written', () => {
    const out = join(dir, 'refused.yaml');
    const r = run(lossy, '--output', out);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.match(/^NOT CARRIED OVER: .*lossy\.conf:\d+: /gm)?.length, 3, r.stderr);
    assert.throws(() => readFileSync(out), /ENOENT/);
  });
  it('--allow-partial writes the marked result and still exits 1; with --force exits 0', () => {
    const out = join(dir, 'partial.yaml');
    assert.equal(run(lossy, '--allow-partial', '--output', out).status, 1);
    assert.equal(readFileSync(out, 'utf8').match(/# NOT CARRIED OVER:/g)?.length, 3);
    assert.equal(run(lossy, '--allow-partial', '--force', '--output', out).status, 0);
  });
  it("@NAME lines follow --node, and by default this host's name, as keepalived's -i", () => {
    const file = join(dir, 'conditional.conf');
    writeFileSync(
      file,
      `vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n @${hostname()} priority 170\n` +
        ' @^' +
        hostname() +
        ' priority 85\n virtual_ipaddress {\n  192.0.2.10/32\n }\n}\n',
    );
    assert.match(run(file).stdout, /priority: 170/);
    assert.match(run(file, '--node', 'elsewhere').stdout, /priority: 85/);
  });

  it('a faithful import exits 0 and --explain names each block', () => {
    const r = run(`${fixtures}server-group.conf`, '--explain');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /server-group\.conf:8: virtual_server group VSG_1 → services\[0\] VSG_1/);
    assert.match(r.stdout, /^services:/m);
  });
});
