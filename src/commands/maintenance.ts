// `failoverd maintenance on|off|status`: routing mode's maintenance marker
// (routing.maintenance_file) by name, so an operator need not know its path. The
// agent polls the file every second: while it exists, every announcement is withdrawn
// and the director keeps serving what the router still sends.
import { stat, unlink, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { checkPluginSource } from '../../checks/index.js';
import { formatConfigError, loadConfigFile } from '../config/index.js';
import { DEFAULT_CONFIG_PATH } from './check.js';
import { parseCommandLine, UsageError, type Command, type CommandOptions } from './command.js';

const OPTIONS = { config: { type: 'string' } } as const satisfies CommandOptions;

const USAGE = `Usage: failoverd maintenance on|off|status [--config FILE]

Routing mode (docs/ecmp.md): puts this director in maintenance or takes it out, by
creating or removing the file routing.maintenance_file names. Within a second the
agent withdraws every announcement (on) or announces again what passes its health
gate (off); the director keeps serving meanwhile. Works whether or not the agent runs.

  on       create the file (it stays across agent restarts and reboots if it is on disk)
  off      remove it
  status   say whether it is there

Options:
  --config FILE   the config that names routing.maintenance_file (default ${DEFAULT_CONFIG_PATH})`;

const ACTIONS = ['on', 'off', 'status'] as const;
type Action = (typeof ACTIONS)[number];

export const command: Command = {
  name: 'maintenance',
  summary: "routing mode: withdraw this director's announcements (on), announce again (off), or show which",
  options: OPTIONS,
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, true);
    if (positionals.length === 0) throw new UsageError('maintenance needs on, off or status');
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    const action = positionals[0]!;
    if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`maintenance takes on, off or status, not "${action}"`);
    const configPath = values.config ?? DEFAULT_CONFIG_PATH;
    const loaded = await loadConfigFile(configPath, { checkPlugins: checkPluginSource() });
    if (!loaded.ok) {
      process.stderr.write(`${configPath} is not valid:\n${loaded.errors.map(formatConfigError).join('\n')}\n`);
      return 1;
    }
    const file = loaded.config.routing.maintenance_file;
    if (file === undefined) {
      process.stderr.write(`${configPath} sets no routing.maintenance_file: add one to use maintenance (docs/ecmp.md)\n`);
      return 1;
    }
    try {
      process.stdout.write(`${await apply(action as Action, file)}\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`maintenance ${action}: ${(err as Error).message}\n`);
      return 1;
    }
  },
};

async function apply(action: Action, file: string): Promise<string> {
  const since = await stat(file).then(
    (s) => s.mtime,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    },
  );
  switch (action) {
    case 'status':
      return since ? `maintenance: on since ${since.toISOString()} (${file})` : `maintenance: off (${file} absent)`;
    case 'on':
      if (since) return `maintenance: already on since ${since.toISOString()} (${file})`;
      // wx: another operator's marker made in between is kept, not overwritten.
      await writeFile(file, `maintenance on by ${who()} at ${new Date().toISOString()}\n`, { flag: 'wx' });
      return `maintenance: on (${file} created); the agent withdraws every announcement within a second, and keeps serving`;
    case 'off':
      if (!since) return `maintenance: already off (${file} absent)`;
      await unlink(file);
      return `maintenance: off (${file} removed); the agent announces again what passes its health gate`;
  }
}

/** user@host for the marker's text; a user without a passwd entry is still named by uid. */
function who(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = `uid ${process.getuid?.() ?? '?'}`;
  }
  return `${user}@${hostname()}`;
}
