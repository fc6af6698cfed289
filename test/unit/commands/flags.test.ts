// Every command parses its flags with node:util parseArgs in strict mode: an unknown
// flag, a missing value, or a bad number is a usage error (exit 2, with the usage),
// never a silently ignored flag or a NaN.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { UsageError, type Command } from '../../../src/commands/command.js';
import { command as check } from '../../../src/commands/check.js';
import { command as importKeepalived } from '../../../src/commands/import-keepalived.js';
import { command as lab } from '../../../src/commands/lab.js';
import { command as realserver } from '../../../src/commands/realserver.js';
import { command as run } from '../../../src/commands/run.js';
import { command as status, resolveAddress } from '../../../src/commands/status.js';
import { command as version } from '../../../src/commands/version.js';
import { command as genhash } from '../../../src/commands/genhash.js';
import { command as maintenance } from '../../../src/commands/maintenance.js';

const CLI = fileURLToPath(new URL('../../../src/cli.js', import.meta.url));
const COMMANDS: Command[] = [version, run, check, importKeepalived, realserver, status, maintenance, genhash, lab];
const dir = mkdtempSync(join(tmpdir(), 'failoverd-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The UsageError `argv` gets from `command`, before it touches anything. */
async function usageError(command: Command, argv: string[]): Promise<string> {
  try {
    await command.run(argv);
  } catch (err) {
    if (err instanceof UsageError) return err.message;
    throw err;
  }
  assert.fail(`${command.name} ${argv.join(' ')}: no usage error`);
}

describe('strict flags', () => {
  for (const command of COMMANDS) {
    it(`${command.name}: an unknown flag is a usage error naming it`, async () => {
      assert.equal(await usageError(command, ['--jsno']), 'unknown option --jsno');
    });
  }

  it('a string flag without its value, a value given to a boolean flag', async () => {
    assert.equal(await usageError(check, ['--config']), '--config needs a value');
    assert.equal(await usageError(check, ['--config=']), '--config needs a value');
    assert.equal(
      await usageError(check, ['--config', '--quiet']),
      '--config needs a value (one that starts with "-" is written --config=-VALUE)',
    );
    assert.equal(await usageError(status, ['--json=yes']), '--json takes no value');
    assert.equal(await usageError(lab, ['-k']), 'unknown option -k');
  });

  it('status: bad numbers and durations are refused, not NaN', async () => {
    assert.equal(await usageError(status, ['--timeout', 'abc']), '--timeout: expected a whole number from 1 to 604800000, got "abc"');
    assert.match(await usageError(status, ['--timeout', '0']), /--timeout: expected a whole number from 1/);
    assert.match(await usageError(status, ['--timeout', '1.5']), /--timeout: expected a whole number/);
    assert.match(await usageError(status, ['force-backup', 'web', '--for', 'soon']), /^--for: invalid duration "soon"/);
    assert.match(
      await usageError(status, ['force-backup', 'web', '--for', '30d']),
      /^--for: invalid duration "30d": expected a duration from 1ms to 7d/,
    );
  });

  it('status: unknown actions and wrong argument counts', async () => {
    assert.equal(await usageError(status, ['dran', 'web', 'rs1']), 'unknown status action "dran"');
    assert.equal(await usageError(status, ['drain', 'web']), 'status drain needs SERVICE REAL_SERVER');
    assert.equal(await usageError(status, ['release']), 'status release needs INSTANCE');
    assert.equal(await usageError(status, ['metrics', 'now']), 'status metrics needs no arguments');
    assert.equal(await usageError(status, ['release', 'web', '--for', '5m']), '--for goes only with force-backup');
    assert.equal(await usageError(status, ['resign']), 'status resign needs INSTANCE');
    assert.equal(await usageError(status, ['maintenance', 'web-80']), 'status maintenance needs SERVICE on|off');
    assert.equal(await usageError(status, ['maintenance', 'web-80', 'yes']), 'status maintenance takes on or off, not "yes"');
  });

  it('run: --log-format and --log-level take only what the config takes', async () => {
    assert.equal(await usageError(run, ['--log-format', 'yaml']), '--log-format: expected one of auto, json, pretty, got "yaml"');
    assert.match(await usageError(run, ['--log-level', 'verbose']), /^--log-level: expected one of trace, debug, info, warn, error, fatal/);
  });

  it('positional arguments where none or fewer are taken', async () => {
    assert.equal(await usageError(version, ['extra']), 'unexpected argument "extra"');
    assert.equal(await usageError(check, ['a.yaml', 'b.yaml']), 'unexpected argument "b.yaml"');
    assert.equal(await usageError(check, ['--config', 'a.yaml', 'b.yaml']), 'unexpected argument "b.yaml"');
    assert.equal(await usageError(realserver, ['setup']), '--vip IP[,IP...] is required');
    assert.equal(await usageError(realserver, ['prepare', '--vip', '10.0.0.1']), 'expected "setup" or "check"');
    assert.equal(await usageError(importKeepalived, []), 'expected one keepalived.conf file');
    assert.equal(await usageError(importKeepalived, ['k.conf', '--force']), '--force only goes with --allow-partial');
    assert.match(await usageError(lab, ['--scenario', 'nope']), /unknown scenario "nope"/);
    assert.match(await usageError(lab, ['--keep-for', 'long']), /--keep-for "long" is not a duration/);
  });

  it('every flag a command takes is in its usage, and every --flag its usage names is taken', () => {
    for (const command of COMMANDS) {
      const documented = new Set([...command.usage.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
      documented.delete('help');
      const taken = new Set(Object.keys(command.options));
      assert.deepEqual([...documented].sort(), [...taken].sort(), command.name);
    }
  });
});

describe('the failoverd program', () => {
  it('status --jsno: exit 2, the flag named, then the usage; nothing on stdout', () => {
    const r = cli('status', '--jsno');
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^failoverd status: unknown option --jsno\n\nUsage: failoverd status /);
  });

  it('status --timeout abc: exit 2', () => {
    const r = cli('status', '--timeout', 'abc');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^failoverd status: --timeout: expected a whole number/);
  });

  it('--help lists each command with the summary the command itself carries', () => {
    const r = cli('--help');
    assert.equal(r.status, 0);
    const listed = [...r.stdout.matchAll(/^ {2}(\S+) +(.+)$/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      listed,
      COMMANDS.map((c) => [c.name, c.summary]),
    );
  });

  it('COMMAND --help prints the usage; after "--" a --help belongs to the program run', () => {
    const r = cli('check', '--help');
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `${check.usage}\n`);
    const exec = cli('lab', 'exec', '--', 'ls', '--help');
    assert.doesNotMatch(exec.stdout, /^Usage: failoverd lab/);
  });
});

describe("status --config reads the file with the agent's loader", () => {
  it('an ${ENV} reference in api.listen is substituted', async () => {
    const file = join(dir, 'env.yaml');
    writeFileSync(file, 'services: []\napi:\n  listen: ${FAILOVERD_TEST_LISTEN}\n');
    process.env['FAILOVERD_TEST_LISTEN'] = '127.0.0.1:9596';
    try {
      assert.deepEqual(await resolveAddress({ config: file }), { kind: 'tcp', host: '127.0.0.1', port: 9596 });
    } finally {
      delete process.env['FAILOVERD_TEST_LISTEN'];
    }
  });

  it('an invalid config is refused with its file:line, not half-read', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'services: []\napi:\n  listen: 0.0.0.0:9596\n');
    await assert.rejects(
      resolveAddress({ config: file }),
      (err: Error) => err.message.includes(`${file}:3:`) && /loopback/.test(err.message),
    );
  });
});
