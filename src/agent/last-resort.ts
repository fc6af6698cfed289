// The path of last resort: something escaped every handler (an uncaught exception or
// an unhandled rejection). A master that simply died would leave its VIPs up while
// the backup takes over, two holders on one segment, and under systemd it would be
// restarted into the same bug. So: log it with its stack, resign every VRRP instance
// (priority-0 advert, VIPs removed, as on SIGTERM) and withdraw every routing
// announcement (the router stops sending at once) within a bounded time, leave the
// IPVS table as it is (the next agent adopts it without dropping a connection), and
// exit non-zero so that systemd's Restart=on-failure starts a fresh agent.
import type { Logger } from '../log.js';

/** EX_SOFTWARE (sysexits.h): an internal software error, told apart from a bad config (2). */
export const LAST_RESORT_EXIT_CODE = 70;
export const DEFAULT_RESIGN_TIMEOUT_MS = 3000;
const FLUSH_TIMEOUT_MS = 200;

export interface LastResortDeps {
  /** Where 'uncaughtException' and 'unhandledRejection' are emitted (the process). */
  events: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  /** The logger in use when it happens (the agent swaps it once the config is read). */
  logger: () => Logger;
  /** Masters resign and drop their VIPs, routing announcements are withdrawn; nothing else. */
  resign: () => Promise<void>;
  exit: (code: number) => void;
  /** Resigning that takes longer than this is abandoned and the process exits anyway. */
  resignTimeoutMs?: number;
  setTimer?: (fn: () => void, ms: number) => void;
}

/** Installs the handlers; returns a function that removes them. */
export function installLastResort(deps: LastResortDeps): () => void {
  let resigning = false;
  const setTimer =
    deps.setTimer ??
    ((fn, ms) => {
      setTimeout(fn, ms).unref();
    });

  const escaped = (err: unknown, origin: 'uncaughtException' | 'unhandledRejection'): void => {
    const log = deps.logger();
    if (resigning) {
      // A second fault while resigning (perhaps caused by the first): logged, the exit stands.
      log.error({ err, origin }, `${origin} while resigning after an earlier fault`);
      return;
    }
    resigning = true;
    log.fatal(
      { err, origin },
      `${origin}: ${describe(err)}; resigning every VRRP instance, keeping the IPVS table, exiting ${LAST_RESORT_EXIT_CODE}`,
    );
    let exited = false;
    const exit = (): void => {
      if (exited) return;
      exited = true;
      // The log is written asynchronously: the fatal line must reach the journal first.
      let done = false;
      const finish = (): void => {
        if (!done) {
          done = true;
          deps.exit(LAST_RESORT_EXIT_CODE);
        }
      };
      setTimer(finish, FLUSH_TIMEOUT_MS);
      try {
        log.flush(() => finish());
      } catch {
        finish();
      }
    };
    const timeoutMs = deps.resignTimeoutMs ?? DEFAULT_RESIGN_TIMEOUT_MS;
    setTimer(() => {
      if (exited) return;
      log.error(`resigning did not finish within ${timeoutMs} ms; exiting anyway`);
      exit();
    }, timeoutMs);
    let resigned: Promise<void>;
    try {
      resigned = deps.resign();
    } catch (resignErr) {
      resigned = Promise.reject(resignErr);
    }
    resigned.then(
      () => {
        log.info('resigned after the fault: VIPs removed, priority 0 sent by every master, routes withdrawn');
        exit();
      },
      (resignErr: unknown) => {
        log.error({ err: resignErr }, `resigning after the fault failed: ${describe(resignErr)}`);
        exit();
      },
    );
  };

  const onException = (err: unknown): void => escaped(err, 'uncaughtException');
  const onRejection = (reason: unknown): void => escaped(reason, 'unhandledRejection');
  deps.events.on('uncaughtException', onException);
  deps.events.on('unhandledRejection', onRejection);
  return () => {
    deps.events.off('uncaughtException', onException);
    deps.events.off('unhandledRejection', onRejection);
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
