// The connector the opt-in kept-alive plain-HTTP probe (http-keepalive.ts) hands to
// undici's Client (its `connect` option):
// net.connect with Nagle off, and nothing else. undici's default connector also
// turns on TCP keep-alive (a setsockopt per connection), arms a connect timer per
// connection (a WeakRef and a timer) and copies its options into a new object each
// time — work that buys nothing where the check's own timeout bounds the connect.
//
// The connection being set up is kept so an aborted check can destroy it: undici
// drops a pending connection only when it completes or fails (its own connector
// adds a 10 s timer, this one has none), so a target that never answers the SYN
// would hold a socket for the kernel's whole SYN-retry time (about two minutes).
import { connect, type Socket } from 'node:net';
import type { buildConnector } from 'undici';

export interface PlainConnector {
  connect: buildConnector.connector;
  /** Destroys the connection still being set up, if any. */
  abortPending(err: Error): void;
}

export function plainConnector(): PlainConnector {
  let pending: Socket | undefined;
  return {
    connect(opts, callback) {
      const socket = connect({
        host: opts.hostname,
        port: opts.port ? Number(opts.port) : 80,
        localAddress: opts.localAddress ?? undefined,
        noDelay: true,
      });
      pending = socket;
      let called = false;
      const settle = (err: Error | null): void => {
        if (pending === socket) pending = undefined;
        if (called) return;
        called = true;
        if (err) callback(err, null);
        else callback(null, socket);
      };
      socket.on('connect', () => settle(null));
      // Stays after the connect: harmless (settled), and undici adds its own.
      socket.on('error', settle);
      return socket;
    },
    abortPending(err) {
      const socket = pending;
      pending = undefined;
      // undici learns of it through the connect callback, with this error.
      socket?.destroy(err);
    },
  };
}
