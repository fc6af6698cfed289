// sd_notify(3) without libsystemd: a datagram of "KEY=VALUE\n" lines to the unix
// socket named by NOTIFY_SOCKET ("/run/systemd/notify" or "@abstract"). Outside
// systemd (no NOTIFY_SOCKET) every call is a no-op that returns false, and a failed
// send never throws: the agent must not stop serving because systemd went away.
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { AF_UNIX, SOCK_DGRAM } from '../net/constants.js';
import { DatagramSocket } from '../net/socket.js';

/** The sockaddr_un for NOTIFY_SOCKET; "@name" is an abstract socket (leading NUL, no terminator). */
export function notifySocketAddress(path: string): Buffer | undefined {
  if (path.length < 2 || (path[0] !== '/' && path[0] !== '@')) return undefined;
  const name = Buffer.from(path, 'utf8');
  if (name.length > 107) return undefined;
  const abstract = path[0] === '@';
  const b = Buffer.alloc(2 + name.length + (abstract ? 0 : 1));
  b.writeUInt16LE(AF_UNIX, 0);
  name.copy(b, 2);
  if (abstract) b[2] = 0;
  return b;
}

/** Sends one notification ("READY=1\nSTATUS=…"); true when a datagram went out. */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const target = env['NOTIFY_SOCKET'];
  if (!target) return false;
  const address = notifySocketAddress(target);
  if (!address) return false;
  let socket: DatagramSocket | undefined;
  try {
    socket = new DatagramSocket(AF_UNIX, SOCK_DGRAM, 0);
    socket.send(Buffer.from(state, 'utf8'), address);
    return true;
  } catch {
    return false;
  } finally {
    socket?.close();
  }
}

const statusLine = (status?: string) => (status ? `\nSTATUS=${status.replace(/\n/g, ' ')}` : '');

/** Startup done: config loaded, sockets open, VRRP and checks running. */
export function notifyReady(status?: string, env?: NodeJS.ProcessEnv): boolean {
  return sdNotify(`READY=1\nMAINPID=${process.pid}${statusLine(status)}`, env);
}

/** The liveness ping; send every watchdogIntervalMs(). */
export function notifyWatchdog(env?: NodeJS.ProcessEnv): boolean {
  return sdNotify('WATCHDOG=1', env);
}

/** A reload (SIGHUP) started; follow with notifyReady() when it is done. MONOTONIC_USEC lets systemd ≥ 253 match the two. */
export function notifyReloading(status?: string, env?: NodeJS.ProcessEnv): boolean {
  const monotonicUsec = process.hrtime.bigint() / 1000n;
  return sdNotify(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec}${statusLine(status)}`, env);
}

/** Shutdown started. */
export function notifyStopping(status?: string, env?: NodeJS.ProcessEnv): boolean {
  return sdNotify(`STOPPING=1${statusLine(status)}`, env);
}

/** Free-form status shown by `systemctl status`. */
export function notifyStatus(status: string, env?: NodeJS.ProcessEnv): boolean {
  return sdNotify(`STATUS=${status.replace(/\n/g, ' ')}`, env);
}

/**
 * How often to ping the watchdog: half of WATCHDOG_USEC (as sd_watchdog_enabled(3)
 * advises), or undefined when systemd set no watchdog for this process.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): number | undefined {
  const usec = env['WATCHDOG_USEC'];
  if (!usec || !/^\d+$/.test(usec) || Number(usec) === 0) return undefined;
  const forPid = env['WATCHDOG_PID'];
  if (forPid && Number(forPid) !== pid) return undefined;
  return Math.max(1, Math.floor(Number(usec) / 2000));
}

/**
 * Pings the watchdog every watchdogIntervalMs() while `healthy()` (when given) says so.
 * The agent gives none: the ping is a timer on its event loop, so a blocked loop misses
 * it and systemd restarts the agent. Returns undefined when there is no watchdog.
 */
export function startWatchdog(
  options: { env?: NodeJS.ProcessEnv; clock?: Clock; healthy?: () => boolean } = {},
): { stop(): void } | undefined {
  const env = options.env ?? process.env;
  const interval = watchdogIntervalMs(env);
  if (interval === undefined) return undefined;
  const clock = options.clock ?? systemClock;
  let timer: TimerHandle | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    if (!options.healthy || options.healthy()) notifyWatchdog(env);
    timer = clock.setTimer(interval, tick);
  };
  tick();
  return {
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
