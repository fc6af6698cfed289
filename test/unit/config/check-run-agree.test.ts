// `failoverd check` and `failoverd run` judge a config the same way. Configs are
// generated near the edges of the VRRP rules (weights at ±253/±254, v2 intervals,
// labels that only overflow once the interface is prefixed, passwords of 8
// characters but more bytes, mixed families, duplicate peers, GARP refresh
// ranges); for each, `check` (the command, as an operator runs it) and the agent's
// start (Agent.create, what `run` and a reload do before touching the system) must
// both accept it, or both refuse it with the same file:line:key lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadCheckPlugins } from '../../../checks/index.js';
import { Agent, ConfigRejectedError } from '../../../src/agent.js';
import { command as check } from '../../../src/commands/check.js';
import { testAgentOptions } from '../agent/harness.js';

const logger = pino({ level: 'silent' });

/** Mostly a value every rule accepts, sometimes one at or past an edge. */
const mostly = <T>(good: T[], edgy: T[]) =>
  fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...edgy) });

const vipOf = (index: number) =>
  mostly([`10.6.${index}.195/32`, `10.6.${index}.196`], ['2001:db8::5', '10.6.2.195/32', `10.6.${index}.197/33`]);
const vipEntry = (index: number) =>
  fc.oneof(
    { weight: 4, arbitrary: vipOf(index) },
    { weight: 1, arbitrary: fc.record({ address: vipOf(index), label: mostly(['vrrp', 'eth0:web'], ['abcdefghijk', 'eth9:web']) }) },
  );
const weight = mostly([-2, 0, 2, -253, 253], [-254, 254]);

const instance = (index: number) =>
  fc
    .record(
      {
        name: fc.constant(`vi${index}`),
        interface: fc.constant('eth0'),
        vrid: mostly([51 + index], [51]),
        priority: mostly([100, 150, 254, 255], [1]),
        version: mostly([3], [2]),
        advert_interval: mostly(['1s', '3s'], ['50ms', '500ms', '1500ms', '45s']),
        vips: fc.array(vipEntry(index), { minLength: 1, maxLength: 2 }),
        unicast_peers: mostly([[], ['10.0.0.2'], ['10.0.0.2', '10.0.0.3']], [['fe80::2'], ['10.0.0.2', '10.0.0.2']]),
        // An instance with auth is a version 2 one, unless the generator breaks that rule.
        auth: fc.option(fc.record({ password: mostly(['secret', '12345678', 'éééé'], ['ééééé']) }), { nil: undefined, freq: 3 }),
        auth_rule: mostly(['kept'], ['broken']),
        garp: fc.record({ refresh: mostly(['0s', '1s', '60s'], ['500ms']) }, { requiredKeys: [] }),
        track: fc.record({ interfaces: fc.array(fc.record({ name: fc.constantFrom('eth2', 'eth3'), weight }), { maxLength: 2 }) }),
      },
      { requiredKeys: ['name', 'interface', 'vrid', 'vips', 'unicast_peers', 'auth_rule'] },
    )
    .map(({ auth_rule, ...v }) => {
      if (v.auth && auth_rule === 'kept') return { ...v, version: 2 };
      return v;
    });

const configs = fc.tuple(instance(0), fc.option(instance(1), { nil: undefined }), fc.boolean()).map(([a, b, withService]) => {
  const vrrp = b ? [a, b] : [a];
  const first = vrrp[0]!.vips[0]!;
  const address = (typeof first === 'string' ? first : first.address).split('/')[0]!;
  return {
    node: { name: 'lvs-a' },
    vrrp,
    services: withService
      ? [
          {
            name: 'web',
            vip: address,
            port: 80,
            check: { type: 'tcp' },
            real_servers: [{ address: address.includes(':') ? '2001:db8::10' : '10.6.2.10' }],
          },
        ]
      : [],
    api: { listen: '/run/failoverd-test/none.sock', metrics: false },
  };
});

async function checkCommand(path: string): Promise<{ code: number; errors: string[] }> {
  const written: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = (chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  };
  let code: number;
  try {
    code = await check.run(['--config', path, '--quiet']);
  } finally {
    process.stderr.write = original;
  }
  const lines = written
    .join('')
    .split('\n')
    .filter((l) => l.length > 0);
  // The closing "FILE: N errors" line is the command's own; warnings are not refusals.
  return { code, errors: lines.filter((l) => !l.startsWith(`${path}: `) && !l.includes(' warning: ')) };
}

async function runStart(path: string): Promise<{ ok: boolean; errors: string[] }> {
  try {
    // What run passes, but the I/O (not touched before the agent starts) in-memory.
    await Agent.create({ ...testAgentOptions(path).options, plugins: await loadCheckPlugins(), hostname: hostname(), logger, env: {} });
    return { ok: true, errors: [] };
  } catch (err) {
    if (err instanceof ConfigRejectedError) return { ok: false, errors: err.lines };
    throw err;
  }
}

test('check and run accept and refuse the same configs, with the same file:line:key lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'failoverd-agree-'));
  const seen = { accepted: 0, refused: 0 };
  try {
    await fc.assert(
      fc.asyncProperty(configs, async (config) => {
        const path = join(dir, 'failoverd.yaml');
        writeFileSync(path, stringify(config));
        const checked = await checkCommand(path);
        const started = await runStart(path);
        assert.equal(
          checked.code === 0,
          started.ok,
          `check exit ${checked.code}, run ${started.ok ? 'started' : `refused:\n${started.errors.join('\n')}`}\n${stringify(config)}`,
        );
        assert.deepEqual(checked.errors, started.errors);
        // Every refusal names the file and a line in it.
        for (const line of started.errors)
          assert.match(line, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:[1-9]\\d*:\\d+ `), line);
        if (started.ok) seen.accepted++;
        else seen.refused++;
      }),
      { numRuns: 150, seed: 12 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.diagnostic(`accepted ${seen.accepted}, refused ${seen.refused}`);
  // The generator reaches both sides, or the property says little.
  assert.ok(seen.accepted >= 10 && seen.refused >= 10, `accepted ${seen.accepted}, refused ${seen.refused}`);
});
