// Issue 17, defect 10 (addon): receive buffers were static, shared by every thread.
// Sockets in two worker threads receive at once; each checks every byte of every
// datagram it got. A worker that exits with a socket still receiving must not
// take the process down. AF_UNIX only: nothing leaves this process.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const scratch = mkdtempSync(join(tmpdir(), 'failoverd-workers-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const socketModule = pathToFileURL(join(import.meta.dirname, '../../../src/net/socket.js')).href;
const sockaddrModule = pathToFileURL(join(import.meta.dirname, '../../../src/net/sockaddr.js')).href;

// Each worker sends datagrams filled with its own byte to its own socket and
// receives them; flow control by waiting while the receive queue is full.
const workerSource = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  const { DatagramSocket } = await import(workerData.socketModule);
  const { sockaddrUnix } = await import(workerData.sockaddrModule);
  const { marker, path, count, size, exitWhileReceiving } = workerData;
  const receiver = new DatagramSocket(1, 2, 0).bind(sockaddrUnix(path));
  const sender = new DatagramSocket(1, 2, 0);
  let received = 0, corrupted = 0;
  receiver.on('message', ({ data }) => {
    received++;
    if (data.length !== size || data.some((b) => b !== marker)) corrupted++;
  });
  receiver.receive();
  const payload = Buffer.alloc(size, marker);
  let sent = 0;
  for (let round = 0; round < 100000 && sent < count; round++) {
    try { sender.send(payload, sockaddrUnix(path)); sent++; }
    catch { await new Promise((r) => setImmediate(r)); }
  }
  for (let i = 0; i < 1000 && received < sent; i++) await new Promise((r) => setTimeout(r, 5));
  parentPort.postMessage({ marker, sent, received, corrupted });
  sender.close();
  // A receiving socket keeps the thread's loop alive; process.exit ends the
  // thread with the socket still open and receiving.
  if (exitWhileReceiving) process.exit(0);
  receiver.close();
})();
`;

interface Report {
  marker: number;
  sent: number;
  received: number;
  corrupted: number;
}

function runWorker(marker: number, exitWhileReceiving: boolean): Promise<{ report: Report; exitCode: number }> {
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: {
      socketModule,
      sockaddrModule,
      marker,
      path: join(scratch, `w${marker}.sock`),
      count: 2000,
      size: 16_384,
      exitWhileReceiving,
    },
  });
  return new Promise((resolve, reject) => {
    let report: Report | undefined;
    worker.on('message', (m: Report) => {
      report = m;
    });
    worker.on('error', reject);
    worker.on('exit', (exitCode) => {
      if (report) resolve({ report, exitCode });
      else reject(new Error(`worker ${marker} exited with ${exitCode} and no report`));
    });
  });
}

test("sockets in two worker threads receive at the same time without corrupting each other's datagrams", async () => {
  const results = await Promise.all([runWorker(0xaa, false), runWorker(0x55, false)]);
  for (const { report, exitCode } of results) {
    assert.equal(exitCode, 0);
    assert.ok(report.sent > 1000, `worker ${report.marker} sent ${report.sent}`);
    assert.equal(report.received, report.sent, `worker ${report.marker} received all`);
    const mixed = `${report.corrupted} of ${report.received} datagrams held another thread's bytes`;
    assert.equal(report.corrupted, 0, `worker ${report.marker}: ${mixed}`);
  }
});

test('a worker that exits with a socket still receiving ends cleanly', async () => {
  const { report, exitCode } = await runWorker(0x11, true);
  assert.equal(exitCode, 0);
  assert.equal(report.corrupted, 0);
});
