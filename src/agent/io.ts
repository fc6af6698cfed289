// The I/O the agent is handed rather than constructing it: `failoverd run` passes
// the system's (netlink, raw sockets, node:http, sd_notify), unit tests pass
// in-memory twins (MemoryIpvsTable, a fake VRRP segment, FakeClock).
import type { ApiConfig, ApiServerDeps } from '../api/server.js';
import type { Clock } from '../clock.js';
import { notifyReady, notifyReloading, notifyStopping, startWatchdog } from '../systemd/notify.js';
import type { VrrpIo } from '../vrrp/ports.js';
import type { HostSocketEvent } from '../vrrp/rtnl-host.js';

export interface ClosableVrrpIo extends VrrpIo {
  close(): void;
}

/** Opens the VRRP I/O; `onSocketEvent` hears the link watcher's overruns, resyncs and errors. */
export type VrrpIoOpener = (onSocketEvent: (event: HostSocketEvent) => void) => ClosableVrrpIo;

/** The status/admin API's listeners. */
export interface ApiListener {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export type ApiOpener = (config: ApiConfig, deps: ApiServerDeps) => ApiListener;

/** sd_notify(3) as the agent uses it. */
export interface SystemdNotifier {
  ready(status: string): void;
  reloading(status: string): void;
  stopping(status: string): void;
  /** Undefined when systemd set no watchdog. */
  startWatchdog(clock: Clock): { stop(): void } | undefined;
}

/** The real notifier: every call is a no-op outside systemd (no NOTIFY_SOCKET). */
export const systemdNotifier: SystemdNotifier = {
  ready: (status) => {
    notifyReady(status);
  },
  reloading: (status) => {
    notifyReloading(status);
  },
  stopping: (status) => {
    notifyStopping(status);
  },
  startWatchdog: (clock) => startWatchdog({ clock }),
};
