// Where the package's own files are, for code that opens or spawns them by path. The
// same source runs from tsc's output (dist/src/…) and from the bundle (dist/bundle/,
// scripts/bundle.mjs), where a module's own URL is that of whichever chunk holds it;
// so paths start from the code root (the nearest ancestor holding src/cli.js) and the
// package root (the nearest ancestor holding package.json), never from a module's file.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function ancestorHolding(file: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, file))) return dir;
    if (dirname(dir) === dir) throw new Error(`failoverd: no ${file} in any directory above ${from}`);
  }
}

let code: string | undefined;
let pkg: string | undefined;

/** dist/ for tsc's output, dist/bundle/ for the bundle: src/, checks/ below it mirror the source tree. */
export function codeRoot(): string {
  return (code ??= ancestorHolding(join('src', 'cli.js'), dirname(fileURLToPath(import.meta.url))));
}

/** The directory of package.json (the repository, or /usr/lib/failoverd/app when installed). */
export function packageRoot(): string {
  return (pkg ??= ancestorHolding('package.json', codeRoot()));
}

/** Where the .deb puts the drop-in for vrrp_realtime (systemd/realtime.conf, installed by packaging/deb.sh). */
export const REALTIME_DROPIN = '/usr/share/failoverd/systemd/realtime.conf';
