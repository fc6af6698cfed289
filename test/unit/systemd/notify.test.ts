import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.js';
import { AF_UNIX, SOCK_DGRAM } from '../../../src/net/constants.js';
import { DatagramSocket } from '../../../src/net/socket.js';
import {
  notifyReady,
  notifyReloading,
  notifySocketAddress,
  notifyStatus,
  notifyStopping,
  notifyWatchdog,
  startWatchdog,
  watchdogIntervalMs,
} from '../../../src/systemd/notify.js';
import { waitFor } from '../../helpers/wait.js';

/** A NOTIFY_SOCKET like systemd's: a unix datagram socket that collects what arrives. */
function listen(path: string) {
  const socket = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0);
  socket.bind(notifySocketAddress(path)!);
  const received: string[] = [];
  socket.on('message', (d) => {
    received.push(d.data.toString('utf8'));
  });
  socket.receive();
  return {
    async next(): Promise<string> {
      await waitFor(() => received.length > 0, { what: 'a notification', timeoutMs: 2000, stepMs: 2 });
      return received.shift()!;
    },
    close: () => socket.close(),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'failoverd-notify-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('sd_notify client', () => {
  it('sends READY=1, WATCHDOG=1, RELOADING=1, STOPPING=1 and STATUS to a path socket', async () => {
    const path = join(dir, 'notify.sock');
    const systemd = listen(path);
    try {
      const env = { NOTIFY_SOCKET: path };
      assert.equal(notifyReady('serving 1 service', env), true);
      assert.equal(await systemd.next(), `READY=1\nMAINPID=${process.pid}\nSTATUS=serving 1 service`);
      assert.equal(notifyWatchdog(env), true);
      assert.equal(await systemd.next(), 'WATCHDOG=1');
      assert.equal(notifyReloading('reloading', env), true);
      assert.match(await systemd.next(), /^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=reloading$/);
      assert.equal(notifyStopping(undefined, env), true);
      assert.equal(await systemd.next(), 'STOPPING=1');
      assert.equal(notifyStatus('two\nlines', env), true);
      assert.equal(await systemd.next(), 'STATUS=two lines');
    } finally {
      systemd.close();
    }
  });

  it('reaches an abstract socket ("@name")', async () => {
    const name = `@failoverd-test-${process.pid}-${randomUUID()}`;
    const systemd = listen(name);
    try {
      assert.equal(notifyReady(undefined, { NOTIFY_SOCKET: name }), true);
      assert.equal(await systemd.next(), `READY=1\nMAINPID=${process.pid}`);
    } finally {
      systemd.close();
    }
  });

  it('is a no-op outside systemd and never throws when nobody listens', () => {
    assert.equal(notifyReady(undefined, {}), false);
    assert.equal(notifyWatchdog({ NOTIFY_SOCKET: 'relative/path' }), false);
    assert.equal(notifyWatchdog({ NOTIFY_SOCKET: join(dir, 'nobody.sock') }), false);
  });

  it('encodes path and abstract socket addresses', () => {
    assert.deepEqual([...notifySocketAddress('/run/x')!], [1, 0, ...Buffer.from('/run/x'), 0]);
    assert.deepEqual([...notifySocketAddress('@x')!], [1, 0, 0, 0x78]);
    assert.equal(notifySocketAddress(''), undefined);
  });
});

describe('watchdog', () => {
  it('pings at half of WATCHDOG_USEC, only for our pid', () => {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '10000000' }, 42), 5000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '42' }, 42), 5000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '43' }, 42), undefined);
    assert.equal(watchdogIntervalMs({}, 42), undefined);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 42), undefined);
  });

  it('startWatchdog sends WATCHDOG=1 on the clock while healthy', async () => {
    const path = join(dir, 'watchdog.sock');
    const systemd = listen(path);
    const clock = new FakeClock();
    let healthy = true;
    const watchdog = startWatchdog({ env: { NOTIFY_SOCKET: path, WATCHDOG_USEC: '2000000' }, clock, healthy: () => healthy });
    try {
      assert.ok(watchdog);
      assert.equal(await systemd.next(), 'WATCHDOG=1'); // at start
      clock.advance(1000);
      assert.equal(await systemd.next(), 'WATCHDOG=1');
      healthy = false;
      clock.advance(1000); // unhealthy: no ping, so systemd's watchdog fires
      healthy = true;
      clock.advance(1000);
      assert.equal(await systemd.next(), 'WATCHDOG=1');
      watchdog.stop();
      clock.advance(5000);
      notifyStatus('marker', { NOTIFY_SOCKET: path });
      assert.equal(await systemd.next(), 'STATUS=marker', 'nothing between the last ping and the marker');
    } finally {
      watchdog?.stop();
      systemd.close();
    }
  });
});
