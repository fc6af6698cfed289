// The checks worker gets the parent's Node options, but not V8's own flags: a worker
// refuses them (ERR_WORKER_INVALID_EXEC_ARGV), so `node --single-threaded-gc cli.js run`
// (docs/vrrp.md) or `--trace-gc` would leave the agent without checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { workerExecArgv } from '../../../src/health/worker-monitor.js';

describe('the checks worker and the parent node flags', () => {
  it("passes Node's options on and leaves V8's process-wide flags out", () => {
    assert.deepEqual(workerExecArgv(['--enable-source-maps', '--single-threaded-gc', '--trace-gc', '--no-warnings', '--stack-size=2000']), [
      '--enable-source-maps',
      '--no-warnings',
    ]);
    // A value in its own argument stays with its option.
    assert.deepEqual(workerExecArgv(['--conditions', 'production', '--single-threaded-gc']), ['--conditions', 'production']);
  });

  it('a worker starts with what is passed on', async () => {
    const worker = new Worker('require("node:worker_threads").parentPort.postMessage("up")', {
      eval: true,
      execArgv: workerExecArgv(['--single-threaded-gc', '--trace-gc', '--no-warnings']),
    });
    const message = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    assert.equal(message, 'up');
    await worker.terminate();
  });
});
