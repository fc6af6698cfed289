// vrrp_realtime: the VRRP thread (the agent's main thread, where the adverts are
// timed and sent) under SCHED_RR, as keepalived's vrrp_rt_priority does for its VRRP
// process. Without it, a busy host can leave the thread waiting for a CPU for
// seconds (docs/vrrp.md, short advert intervals under load). A refusal (no
// CAP_SYS_NICE, no RLIMIT_RTPRIO) is logged and the agent runs on, unchanged.
import type { Logger } from 'pino';
import type { VrrpRealtimeConfig } from '../config/schema.js';
import { native } from '../net/native.js';
import { REALTIME_DROPIN } from '../paths.js';
import type { VrrpIo, VrrpScheduling } from './ports.js';

/** Applies the setting once, at start; true if the thread is now real-time. */
export function applyVrrpRealtime(
  settings: VrrpRealtimeConfig | undefined,
  io: Pick<VrrpIo, 'scheduling' | 'youngGeneration'>,
  logger: Logger,
): boolean {
  if (!settings) return false;
  const { scheduling } = io;
  const limit = `cpu_burst_limit ${settings.cpu_burst_limit} ms`;
  if (!scheduling) {
    logger.error(`vrrp_realtime: this VRRP I/O cannot change scheduling; the VRRP thread keeps normal scheduling`);
    return false;
  }
  try {
    scheduling.setRealtime(settings.priority, settings.cpu_burst_limit);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const hint =
      code === 'EPERM' ? ' (needs CAP_SYS_NICE, or a RLIMIT_RTPRIO of at least the priority: LimitRTPRIO= in the systemd unit)' : '';
    logger.error(
      { err },
      `vrrp_realtime: could not put the VRRP thread under SCHED_RR ${settings.priority}: ${(err as Error).message}${hint}; it keeps normal scheduling`,
    );
    return false;
  }
  // The thread is back in its event loop when this runs (a runaway would never get
  // here): the burst is over, and it goes back to real-time.
  scheduling.onDropped(() => {
    let again = 'it is real-time again';
    try {
      scheduling.setRealtime(settings.priority, settings.cpu_burst_limit);
    } catch (err) {
      again = `it stays at normal scheduling (${(err as Error).message})`;
    }
    logger.warn(
      `vrrp_realtime: the VRRP thread ran ${settings.cpu_burst_limit} ms without blocking (RLIMIT_RTTIME) and was put back to normal scheduling for that burst; ${again}`,
    );
  });
  logger.info(`vrrp_realtime: the VRRP thread runs under SCHED_RR ${settings.priority} (${limit}); the threads it starts do not`);
  if (scheduling.v8HelperThreads) {
    // Measured (docs/vrrp.md): after a full collection the thread's event loop turned
    // without waiting until RLIMIT_RTTIME demoted it, and only then did V8's GC helpers,
    // on the same busy CPU, run (runs T, U and V; bench/vrrp/gc-starvation.ts); and
    // queueing an optimizing compile for a helper, it waited on the task queue's lock
    // while a helper held it, a takeover 7 ms late (runs Y and Z).
    logger.warn(
      `vrrp_realtime: V8 hands work (garbage collection, optimizing compilation) to helper threads at normal scheduling, which the real-time VRRP thread can wait on; start node with --single-threaded (the packaged drop-in ${REALTIME_DROPIN} does)`,
    );
  }
  if (scheduling.memoryReducer) {
    // Measured (docs/vrrp.md, runs AN-AT): with 10,000 real servers, its compacting
    // collections paused the VRRP thread up to 66 ms (17 ms at the median), the longest
    // master advert gaps of run AO among them; without it, the full collections were
    // fewer and paused it 11 ms at the median, 30 ms at most.
    logger.warn(
      `vrrp_realtime: V8's memory reducer compacts the whole heap on the VRRP thread once the agent's allocation slows down (pauses of 13-66 ms measured with 10,000 real servers); start node with --no-memory-reducer (the packaged drop-in ${REALTIME_DROPIN} does)`,
    );
  }
  if (!io.youngGeneration) {
    // Measured (docs/vrrp.md, runs Y and Z): without it, 4 takeovers of 24 had the timer run
    // 2.8-4.8 ms late in short 20 ms runs; with it, none over 1.0 ms.
    logger.warn(
      `vrrp_realtime: node was started without --expose-gc, so V8 scavenges the VRRP thread's young generation whenever it fills, even just before a takeover; with it the agent scavenges at quiet moments (the packaged drop-in ${REALTIME_DROPIN} starts node with it)`,
    );
  }
  return true;
}

interface SchedulingBinding {
  setRealtime?(priority: number, burstLimitMicros: number): void;
  realtimeDropped?(): boolean;
}

/** How often to look whether RLIMIT_RTTIME demoted the thread (its signal handler only sets a flag). */
const DROPPED_POLL_MS = 1000;

/** The kernel's scheduling of the calling thread, through the native addon. */
export function systemScheduling(): VrrpScheduling {
  return {
    setRealtime(priority, cpuBurstLimitMs) {
      const binding = native() as SchedulingBinding;
      if (!binding.setRealtime) throw new Error('the native addon has no setRealtime (an older build): rebuild it (npx node-gyp rebuild)');
      binding.setRealtime(priority, Math.round(cpuBurstLimitMs * 1000));
    },
    onDropped(callback) {
      const binding = native() as SchedulingBinding;
      const timer = setInterval(() => {
        if (binding.realtimeDropped?.()) callback();
      }, DROPPED_POLL_MS);
      timer.unref();
    },
    v8HelperThreads: !process.execArgv.includes('--single-threaded'),
    memoryReducer: !process.execArgv.includes('--no-memory-reducer'),
  };
}
