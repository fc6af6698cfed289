// Where a sub-second bench director's main-thread garbage dies old (BENCH_HEAP_PROFILE=DIR):
// V8's sampling heap profiler, told to drop the sampled objects that died in a scavenge
// and keep the others (still alive, or collected by a full collection), from
// BENCH_HEAP_PROFILE_FROM_S (default 30) to BENCH_HEAP_PROFILE_TO_S (default 90) seconds
// of the process's life.
// Writes DIR/heap-PID.heapprofile (Chrome DevTools' format) and logs the top allocation
// sites by bytes.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

export function startHeapProfile(logger: Logger, dir: string, fromS: number, toS: number): void {
  const session = new Session();
  session.connect();
  const run = async (): Promise<void> => {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: false,
    });
    await new Promise((resolve) => setTimeout(resolve, (toS - fromS) * 1000).unref());
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
    writeFileSync(join(dir, `heap-${process.pid}.heapprofile`), JSON.stringify(profile));
    const sites = new Map<string, number>();
    const walk = (node: ProfileNode, stack: string[]): void => {
      const frame = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber + 1}`;
      const here = [...stack, frame];
      if (node.selfSize > 0) {
        const key = here.slice(-4).join(' < ');
        sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
      }
      for (const child of node.children) walk(child, here);
    };
    walk(profile.head, []);
    const top = [...sites].sort((a, b) => b[1] - a[1]).slice(0, 25);
    logger.info({ seconds: toS - fromS, top: top.map(([site, bytes]) => `${(bytes / 1e6).toFixed(2)} MB ${site}`) }, 'heap profile');
    session.disconnect();
  };
  setTimeout(() => void run().catch((err: Error) => logger.error({ err }, 'heap profile failed')), fromS * 1000).unref();
}
