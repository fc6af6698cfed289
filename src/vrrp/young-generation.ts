// The VRRP thread's young generation, from V8: how full it is, and a scavenge on demand.
import v8 from 'node:v8';
import type { YoungGeneration } from './ports.js';

type ExposedGc = (options: { type: 'minor' | 'major' }) => void;

/** The calling thread's young generation; undefined when node was started without --expose-gc (no scavenge on demand). */
export function systemYoungGeneration(): YoungGeneration | undefined {
  const gc = (globalThis as { gc?: ExposedGc }).gc;
  if (typeof gc !== 'function') return undefined;
  return {
    fill() {
      const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      const capacity = space ? space.space_used_size + space.space_available_size : 0;
      return capacity > 0 ? space!.space_used_size / capacity : 0;
    },
    scavenge() {
      gc({ type: 'minor' });
    },
  };
}
