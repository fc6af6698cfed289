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

/** The node-api addon built from native/dgram_socket.c at install time. */
export function native(): NativeBinding {
  if (binding) return binding;
  const root = findProjectRoot();
  const candidates = ['build/Release/failoverd_native.node', 'build/Debug/failoverd_native.node'].map((p) => join(root, p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`failoverd: native addon not built (looked for ${candidates.join(', ')}); run "npm ci" or "npx node-gyp rebuild"`);
  binding = createRequire(import.meta.url)(found) as NativeBinding;
  return binding;
}
