import { ApiClient } from '../api/client.js';
import { formatStatus } from '../api/format.js';
import { parseListenAddress, type ListenAddress } from '../api/listen.js';
import { DEFAULT_SOCKET, FORCE_BACKUP_RANGE } from '../api/server.js';
import { MAX_DURATION_MS } from '../config/duration.js';
import { durationFlag, integerFlag, parseCommandLine, UsageError, type Command, type CommandOptions } from './command.js';

const usage = `Usage: failoverd status [--json] [--socket PATH | --config FILE | --address HOST:PORT]
       failoverd status drain SERVICE REAL_SERVER
       failoverd status undrain SERVICE REAL_SERVER
       failoverd status maintenance SERVICE on|off
       failoverd status force-backup INSTANCE [--for 5m]
       failoverd status release INSTANCE
       failoverd status resign INSTANCE
       failoverd status audit
       failoverd status metrics

Shows the running agent's view: VRRP instances, services with quorum, real servers
with their last check, the IPVS table with stats, maintenance windows and webhooks.

Finding the agent:
  --socket PATH        its Unix socket (default ${DEFAULT_SOCKET})
  --config FILE        read api.listen from this config file
  --address HOST:PORT  its loopback status listener

Options:
  --json               print the status as JSON instead of tables
  --timeout MS         give up after this long (default 5000)

Admin actions go over the Unix socket (its file permissions decide who may use them):
  drain / undrain      set a real server's weight to 0 (connections finish) / back
  maintenance          drain every real server of a service (on) / back (off)
  force-backup         make an instance BACKUP for a while (default 5m)
  release              end a forced backup now
  resign               a master steps down once (priority-0 advert, then BACKUP);
                       it may become master again by the normal rules
  audit                read the whole IPVS table now and repair what differs from
                       the agent's view (it does so every 10 s anyway), e.g. after
                       a change made by hand with ipvsadm`;

/** Where the agent listens: the flag, or api.listen from the config, or the default socket. */
export async function resolveAddress(flags: { socket?: string; address?: string; config?: string }): Promise<ListenAddress> {
  if (flags.socket !== undefined) return { kind: 'unix', path: flags.socket };
  if (flags.address !== undefined) return parseListenAddress(flags.address);
  if (flags.config !== undefined) {
    // The agent's own loader: ${ENV} references, defaults and validation as `run` sees them.
    // Imported here: without --config, status needs none of it and starts fast.
    const { formatConfigError, loadConfigFile } = await import('../config/index.js');
    const { checkPluginSource } = await import('../../checks/index.js');
    const result = await loadConfigFile(flags.config, { checkPlugins: checkPluginSource() });
    if (!result.ok) throw new Error(`${flags.config} is not valid:\n${result.errors.map(formatConfigError).join('\n')}`);
    return parseListenAddress(result.config.api.listen);
  }
  return { kind: 'unix', path: DEFAULT_SOCKET };
}

/** How long `force-backup` holds an instance when --for is not given. */
const DEFAULT_FORCE_BACKUP = '5m';

/** Each action and the arguments it takes. */
const ACTIONS: Record<string, string> = {
  metrics: '',
  drain: 'SERVICE REAL_SERVER',
  undrain: 'SERVICE REAL_SERVER',
  maintenance: 'SERVICE on|off',
  'force-backup': 'INSTANCE',
  release: 'INSTANCE',
  resign: 'INSTANCE',
  audit: '',
};

const OPTIONS = {
  json: { type: 'boolean' },
  socket: { type: 'string' },
  config: { type: 'string' },
  address: { type: 'string' },
  timeout: { type: 'string' },
  for: { type: 'string' },
} as const satisfies CommandOptions;

export const command: Command = {
  name: 'status',
  options: OPTIONS,
  summary: "show the running agent's state; drain, maintenance, force backup, resign, audit",
  usage,
  async run(argv) {
    const { values: flags, positionals: rest } = parseCommandLine(argv, OPTIONS, true);
    const timeoutMs = flags.timeout === undefined ? 5000 : integerFlag('timeout', flags.timeout, 1, MAX_DURATION_MS);
    const forMs = durationFlag('for', flags.for ?? DEFAULT_FORCE_BACKUP, FORCE_BACKUP_RANGE);
    const [action, ...args] = rest;
    if (action !== undefined) {
      const wants = ACTIONS[action];
      if (wants === undefined) throw new UsageError(`unknown status action "${action}"`);
      if (args.length !== (wants ? wants.split(' ').length : 0)) throw new UsageError(`status ${action} needs ${wants || 'no arguments'}`);
    }
    if (action === 'maintenance' && args[1] !== 'on' && args[1] !== 'off')
      throw new UsageError(`status maintenance takes on or off, not "${args[1]}"`);
    if (flags.for !== undefined && action !== 'force-backup') throw new UsageError('--for goes only with force-backup');
    const address = await resolveAddress(flags);
    const client = new ApiClient(address, timeoutMs);
    const where = address.kind === 'unix' ? address.path : `${address.host}:${address.port}`;
    try {
      if (!action) {
        const snapshot = await client.status();
        process.stdout.write(flags.json ? `${JSON.stringify(snapshot, null, 2)}\n` : formatStatus(snapshot));
        return 0;
      }
      if (action === 'metrics') {
        process.stdout.write(await client.metrics());
        return 0;
      }
      if (action === 'drain' || action === 'undrain') {
        const result = await client.admin(action, { service: args[0], real_server: args[1] });
        process.stdout.write(
          flags.json ? `${JSON.stringify(result)}\n` : `${action === 'drain' ? 'drained' : 'undrained'} ${args[1]} in ${args[0]}\n`,
        );
        return 0;
      }
      if (action === 'maintenance') {
        const on = args[1] === 'on';
        const result = await client.admin(action, { service: args[0], on });
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(result)}\n`
            : `${args[0]}: maintenance ${on ? 'on, every real server drained' : 'off, real servers back to their weights'}\n`,
        );
        return 0;
      }
      if (action === 'force-backup' || action === 'release') {
        const result = await client.admin(action, { instance: args[0], for: action === 'force-backup' ? forMs : 0 });
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(result)}\n`
            : action === 'release'
              ? `released ${args[0]}\n`
              : `${args[0]} forced to BACKUP for ${forMs / 1000}s\n`,
        );
        return 0;
      }
      if (action === 'resign') {
        const result = await client.admin(action, { instance: args[0] });
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(result)}\n`
            : result.wasMaster
              ? `${args[0]} resigned: MASTER -> BACKUP\n`
              : `${args[0]} is not MASTER: nothing to resign\n`,
        );
        return 0;
      }
      if (action === 'audit') {
        const result = await client.admin(action, {});
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(result)}\n`
            : result.drift === 0
              ? "IPVS table audited: it matches the agent's view\n"
              : `IPVS table audited: ${String(result.drift)} entries differed; ${String(result.ops)} operations repaired them (${String(result.failed)} failed)${result.converged ? '' : '; not converged, see "failoverd status"'}\n`,
        );
        return 0;
      }
      throw new Error(`unhandled status action "${action}"`);
    } catch (err) {
      const e = err as Error & { code?: string; cause?: { code?: string } };
      const code = e.code ?? e.cause?.code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'UND_ERR_SOCKET') {
        return fail(`cannot reach failoverd at ${where} (${code}); is it running? Use --socket, --config or --address.`);
      }
      if (code === 'EACCES') return fail(`permission denied on ${where}: run as root or as a member of the socket's group`);
      return fail(e.message);
    } finally {
      await client.close().catch(() => {});
    }
  },
};

function fail(message: string): number {
  process.stderr.write(`failoverd status: ${message}\n`);
  return 1;
}
