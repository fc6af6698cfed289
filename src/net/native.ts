import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface AncillaryData {
  level: number;
  type: number;
  data: Buffer;
}

export type ReceiveCallback = (
  err: (Error & { code?: string }) | null,
  data?: Buffer,
  sockaddr?: Buffer,
  ancillary?: AncillaryData[],
  flags?: number,
  /** How long before it was read the kernel received it (its SO_TIMESTAMPNS stamp), in ms; 0 without a stamp. */
  ageMs?: number,
) => void;

export interface NativeDatagramSocket {
  readonly fd: number;
  bind(sockaddr: Uint8Array): void;
  connect(sockaddr: Uint8Array): void;
  send(data: Uint8Array, sockaddr?: Uint8Array | null): number;
  setsockopt(level: number, name: number, value: Uint8Array): void;
  getsockopt(level: number, name: number, maxLength: number): Buffer;
  /** SO_ATTACH_FILTER with a classic BPF program (struct sock_filter[], 8 bytes each). */
  attachFilter?(program: Uint8Array): void;
  getsockname(): Buffer;
  startReceiving(callback: ReceiveCallback): void;
  stopReceiving(): void;
  /** Delivers the datagrams queued now to the receive callback, without waiting for the event loop's poll. */
  receivePending?(): void;
  close(): void;
  setRef(keepAlive: boolean): void;
}

export interface NativeBinding {
  DatagramSocket: new (domain: number, type: number, protocol: number, netnsPath?: string) => NativeDatagramSocket;
  nameToIndex(name: string): number;
  indexToName(index: number): string;
  errnoName(errno: number): string;
  /** prctl(PR_CAP_AMBIENT_CLEAR_ALL) on the calling thread: children stop inheriting capabilities. */
  clearAmbientCapabilities(): void;
}

function findProjectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('failoverd: cannot find the project root (binding.gyp) to load the native addon');
}

let binding: NativeBinding | undefined;

/**
 * The node-api addon from native/: a local build (build/Release, build/Debug) when
 * there is one, else the prebuilt one for this platform and CPU that ships in the
 * package (prebuilds/linux-x64, prebuilds/linux-arm64). node-gyp-build decides.
 */
export function native(): NativeBinding {
  if (binding) return binding;
  const root = findProjectRoot();
  const require = createRequire(import.meta.url);
  const load = require('node-gyp-build') as (dir: string) => unknown;
  try {
    binding = load(root) as NativeBinding;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `failoverd: no native addon for ${process.platform}-${process.arch} in ${root} (${why}); ` +
        'run "npm ci" or "npx node-gyp rebuild" there',
    );
  }
  return binding;
}
