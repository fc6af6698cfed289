// The Debian mirror this machine's apt already uses, read from its own sources
// (/etc/apt/sources.list, sources.list.d/*.list one-line entries and *.sources
// deb822 paragraphs), so the project names no package host of its own and works
// behind whatever mirror or proxy the machine is set up with.
//
//   node dist/src/lab/apt-sources.js     prints the mirror's URI (exit 1 if none)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  enabled: boolean;
}

/** One-line format: `deb [opt=val ...] URI SUITE [COMPONENT...]`; deb-src and comments kept apart. */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const withoutOptions = line.replace(/\[[^\]]*\]/, ' ');
    const [type, uri, suite, ...components] = withoutOptions.split(/\s+/).filter(Boolean);
    if (!type || !uri || !suite || !/^deb(-src)?$/.test(type)) continue;
    sources.push({ types: [type], uris: [uri], suites: [suite], components, enabled: true });
  }
  return sources;
}

/** deb822 format: paragraphs of `Field: value` (continuation lines indented), blank-line separated. */
export function parseDeb822Sources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const paragraph of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of paragraph.split('\n')) {
      if (/^\s*#/.test(line) || !line.trim()) continue;
      const field = /^([A-Za-z][A-Za-z0-9-]*):(.*)$/.exec(line);
      if (field) {
        last = field[1]!.toLowerCase();
        fields.set(last, field[2]!.trim());
      } else if (last && /^\s/.test(line)) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
      }
    }
    const words = (name: string): string[] => (fields.get(name) ?? '').split(/\s+/).filter(Boolean);
    if (!fields.has('types') || !fields.has('uris')) continue;
    sources.push({
      types: words('types'),
      uris: words('uris'),
      suites: words('suites'),
      components: words('components'),
      enabled: !/^(no|false|0)$/i.test(fields.get('enabled') ?? 'yes'),
    });
  }
  return sources;
}

// A Debian archive's own suites (codenames and aliases); -updates, -security and
// -backports are not the main archive, and other distributions use other names.
const DEBIAN_SUITES = new Set([
  'buster',
  'bullseye',
  'bookworm',
  'trixie',
  'forky',
  'duke',
  'sid',
  'oldoldstable',
  'oldstable',
  'stable',
  'testing',
  'unstable',
]);

/** The URI of the first enabled binary source that serves a Debian suite's main component. */
export function debianMirror(sources: AptSource[]): string | undefined {
  for (const source of sources) {
    if (!source.enabled || !source.types.includes('deb') || !source.components.includes('main')) continue;
    if (!source.suites.some((suite) => DEBIAN_SUITES.has(suite))) continue;
    const uri = source.uris.find((u) => /^(https?|mirror\+https?|mirror\+file|file|tor\+https?):/.test(u));
    if (uri) return uri.replace(/\/+$/, '');
  }
  return undefined;
}

/** The machine's sources, in apt's order: sources.list, then sources.list.d/ by name. */
export function readMachineSources(etcApt = '/etc/apt'): AptSource[] {
  const sources: AptSource[] = [];
  const main = join(etcApt, 'sources.list');
  if (existsSync(main)) sources.push(...parseOneLineSources(readFileSync(main, 'utf8')));
  const parts = join(etcApt, 'sources.list.d');
  const names = existsSync(parts) ? readdirSync(parts).sort() : [];
  for (const name of names) {
    const path = join(parts, name);
    if (name.endsWith('.list')) sources.push(...parseOneLineSources(readFileSync(path, 'utf8')));
    else if (name.endsWith('.sources')) sources.push(...parseDeb822Sources(readFileSync(path, 'utf8')));
  }
  return sources;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const mirror = debianMirror(readMachineSources());
  if (mirror) process.stdout.write(`${mirror}\n`);
  else {
    process.stderr.write(
      'no Debian mirror (a "deb" source with a Debian suite and main) ' + 'in /etc/apt/sources.list or sources.list.d/\n',
    );
    process.exitCode = 1;
  }
}
