// The checks worker gets the parent's Node options, but not V8's own flags: a worker
// refuses them (ERR_WORKER_INVALID_EXEC_ARGV), so `node --single-threaded-gc cli.js run`
// (docs/vrrp.md), `--trace-gc` or `--max-old-space-size` would leave the agent without checks.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { CHECK_DEFAULTS, type HealthServiceConfig } from '../../../src/health/types.js';
import { workerExecArgv } from '../../../src/health/worker-monitor.js';
import { TcpBackend } from '../../helpers/tcp-backend.js';
import { service, tcpKey } from '../ipvs/builders.js';

describe('the checks worker and the parent node flags', () => {
  it("passes Node's options on and leaves V8's process-wide flags out", () => {
    assert.deepEqual(workerExecArgv(['--enable-source-maps', '--single-threaded-gc', '--trace-gc', '--no-warnings', '--stack-size=2000']), [
      '--enable-source-maps',
      '--no-warnings',
    ]);
    // The packaged realtime drop-in's flags (node accepts --expose-gc in NODE_OPTIONS too).
    assert.deepEqual(
      workerExecArgv(['--single-threaded', '--single-threaded-gc', '--expose-gc', '--expose_gc', '--no-memory-reducer', '--no-warnings']),
      ['--no-warnings'],
    );
    // A value in its own argument stays with its option.
    assert.deepEqual(workerExecArgv(['--conditions', 'production', '--single-threaded-gc']), ['--conditions', 'production']);
  });

  it('a worker starts with what is passed on', async () => {
    const worker = new Worker('require("node:worker_threads").parentPort.postMessage("up")', {
      eval: true,
      execArgv: workerExecArgv(['--single-threaded-gc', '--expose-gc', '--trace-gc', '--no-warnings']),
    });
    const message = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(message, 'up');
    await worker.terminate();
  });

  it('a parent started with V8 flags the filter lets through still gets its checks (--max-old-space-size)', async () => {
    const backend = await new TcpBackend().start();
    try {
      const web: HealthServiceConfig = {
        name: 'web',
        spec: service(tcpKey('10.6.2.195', 80)),
        forwarding: 'dr',
        quorum: 1,
        hysteresis: 0,
        onFailure: 'remove',
        realServers: [
          {
            address: '127.0.0.1',
            port: backend.port,
            weight: 1,
            checks: [{ ...CHECK_DEFAULTS, type: 'tcp', options: {}, intervalMs: 50, timeoutMs: 5_000, rise: 1, fall: 1 }],
          },
        ],
      };
      const monitor = new URL('../../../src/health/worker-monitor.js', import.meta.url).href;
      const events = new URL('../../../src/events.js', import.meta.url).href;
      const script = `
        import { pino } from 'pino';
        import { WorkerHealthMonitor } from ${JSON.stringify(monitor)};
        import { EventBus } from ${JSON.stringify(events)};
        const warnings = [];
        const logger = pino({ level: 'warn' }, { write: (line) => warnings.push(JSON.parse(line).msg) });
        let settled = () => {};
        const m = new WorkerHealthMonitor({ bus: new EventBus('x'), logger, onPoolChange: () => queueMicrotask(() => settled()), onCheckResults: () => settled() });
        await m.update(${JSON.stringify([web])});
        // Re-checked on every pool change and check round (spawnSync's timeout bounds the child).
        await new Promise((resolve) => { settled = () => { if (m.quorumUp('web') === true) resolve(); }; settled(); });
        await m.stop();
        console.log(JSON.stringify({ up: true, warnings }));
      `;
      const r = spawnSync(process.execPath, ['--max-old-space-size=256', '--stack-trace-limit=20', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 20_000,
        cwd: new URL('../../../../', import.meta.url),
      });
      assert.equal(r.status, 0, `exited by itself (${r.signal ?? ''}): ${r.stderr}`);
      const out = JSON.parse(r.stdout) as { up: boolean; warnings: string[] };
      assert.equal(out.up, true);
      assert.equal(out.warnings.length, 1, r.stdout);
      assert.match(
        out.warnings[0]!,
        /invalid execArgv flags: --max-old-space-size=256, --stack-trace-limit=20; it starts without the agent's node options/,
      );
    } finally {
      await backend.stop();
    }
  });
});
