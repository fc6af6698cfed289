// keepalived.conf text → failoverd.yaml text. Faithful or refused: the result says
// what could not be carried over (lossy findings, with keepalived's file:line), and
// the YAML marks each such spot with a "# NOT CARRIED OVER:" comment.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Document } from 'yaml';
import { packageRoot, REALTIME_DROPIN } from '../paths.js';
import { convertKeepalived, TOP_LEVEL_KEYWORDS, type Explanation } from './convert.js';
import { formatFinding, type Finding } from './findings.js';
import { scriptsRun } from './global-defs.js';
import { parseKeepalived, type KaParseOptions } from './parse.js';
import type { WrittenConfig } from './written.js';

export interface ImportResult {
  yaml: string;
  /** The document the YAML holds, in the schema's input shape. */
  config: WrittenConfig;
  /** Everything found, in file order. */
  findings: Finding[];
  /** The findings that change behaviour: any of them fails the import. */
  lossy: Finding[];
  explanations: Explanation[];
  /**
   * The kinds of program the result runs, which keepalived ran as root (a non-root
   * script user is refused): the packaged unit runs failoverd, and so them, as user
   * failoverd unless the operator installs the scripts-as-root drop-in.
   */
  scriptsRunAsRoot: string[];
}

/** Where the package puts the drop-in (systemd/scripts-as-root.conf, installed by packaging/deb.sh). */
export const SCRIPTS_AS_ROOT_DROPIN = '/usr/share/failoverd/systemd/scripts-as-root.conf';

/** What to tell the operator when the result asks for real-time scheduling, which the packaged unit refuses. */
export function realtimeNote(config: WrittenConfig): string[] {
  if (!config.vrrp_realtime) return [];
  return [
    "vrrp_realtime (keepalived's vrrp_rt_priority): the packaged failoverd.service refuses real-time scheduling;",
    'failoverd then logs an error and runs at normal priority. To allow it (and start node with --single-threaded --expose-gc --no-memory-reducer),',
    'install its drop-in (LimitRTPRIO=50 in it: raise it if vrrp_realtime.priority is higher):',
    `  install -D -m 0644 ${REALTIME_DROPIN} /etc/systemd/system/failoverd.service.d/realtime.conf`,
  ];
}

/** What to tell the operator about the scripts' user, one line each; none when no script runs. */
export function scriptsAsRootNote(scripts: readonly string[]): string[] {
  if (!scripts.length) return [];
  return [
    `keepalived ran the ${scripts.join(', ')} as root. The packaged failoverd.service runs failoverd, and so them, as`,
    'user failoverd with a read-only file system. To run them as root, as keepalived did, install its drop-in:',
    `  install -D -m 0644 ${SCRIPTS_AS_ROOT_DROPIN} /etc/systemd/system/failoverd.service.d/scripts-as-root.conf`,
  ];
}

/** The input is not a keepalived.conf at all: one line says why. */
export class NotKeepalivedError extends Error {}

/** The JSON Schema shipped with this package (config/schema.json), when it is there. */
export function shippedSchemaPath(): string | undefined {
  // From the package root: in the bundle this module sits in a chunk, not in dist/src/keepalived/.
  const path = join(packageRoot(), 'config', 'schema.json');
  return existsSync(path) ? path : undefined;
}

const byPosition = (a: Finding, b: Finding) => (a.file === b.file ? a.line - b.line : a.file.localeCompare(b.file));

export function importKeepalived(text: string, file: string, options: KaParseOptions = {}): ImportResult {
  rejectNonConfig(text, file);
  const parsed = parseKeepalived(text, file, options);
  if (!parsed.nodes.some((n) => TOP_LEVEL_KEYWORDS.has(n.keyword))) {
    throw new NotKeepalivedError(`${file}: not a keepalived.conf (no global_defs, vrrp_instance or virtual_server)`);
  }
  const converted = convertKeepalived(parsed.nodes);
  const syntax: Finding[] = parsed.problems.map((p) => ({ kind: 'lossy', ...p }));
  const findings = [...syntax, ...converted.findings].sort(byPosition);
  const lossy = findings.filter((f) => f.kind === 'lossy');
  const { vrrp = [], vrrp_sync_groups = [], services = [] } = converted.config;
  const scriptsRunAsRoot = scriptsRun(vrrp, vrrp_sync_groups, services);
  const schema = shippedSchemaPath();
  const header = [
    ...(schema ? [`# yaml-language-server: $schema=${schema}`] : []),
    `# Converted from ${file} by "failoverd import-keepalived".`,
    '# keepalived defaults are written out (VRRP version 2, NAT forwarding, delay_loop 60s,',
    '# connect_timeout 5s, servers up until a check fails unless alpha).',
    '# Check it with "failoverd check --config THIS_FILE".',
    ...[...scriptsAsRootNote(scriptsRunAsRoot), ...realtimeNote(converted.config)].map((line) => `# ${line}`),
    ...lossy.filter((f) => !f.path).map((f) => `# NOT CARRIED OVER: ${formatFinding(f)}`),
  ];
  const doc = new Document(converted.config);
  for (const f of lossy.filter((x) => x.path)) {
    const node = doc.getIn(f.path!, true) as { commentBefore?: string | null } | undefined;
    const target = node && typeof node === 'object' ? node : (doc.contents as { commentBefore?: string | null });
    const note = ` NOT CARRIED OVER: ${formatFinding(f)}`;
    target.commentBefore = target.commentBefore ? `${target.commentBefore}\n${note}` : note;
  }
  const empty = Object.keys(converted.config).length === 0;
  const body = empty ? '{}\n' : doc.toString({ lineWidth: 0, flowCollectionPadding: true });
  const yaml = `${header.join('\n')}\n${body}`;
  return { yaml, config: converted.config, findings, lossy, explanations: converted.explanations, scriptsRunAsRoot };
}

function rejectNonConfig(text: string, file: string): void {
  if (text.trim() === '') throw new NotKeepalivedError(`${file}: empty, nothing to import`);
  // Random bytes decode to replacement characters and control codes; a config has neither.
  // eslint-disable-next-line no-control-regex -- control codes are what it looks for
  const binary = /[\uFFFD\u0000-\u0008\u000E-\u001F]/.test(text.slice(0, 65536));
  if (binary) throw new NotKeepalivedError(`${file}: not a text file (binary data), not a keepalived.conf`);
}

export { formatFinding };
