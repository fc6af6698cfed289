import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ApiClient } from '../api/client.js';
import { parseDuration } from '../api/duration.js';
import { formatStatus } from '../api/format.js';
import { parseListenAddress, type ListenAddress } from '../api/listen.js';
import { DEFAULT_SOCKET } from '../api/server.js';
import { parseFlags, type Command } from './command.js';

const usage = `Usage: failoverd status [--json] [--socket PATH | --config FILE | --address HOST:PORT]
       failoverd status drain SERVICE REAL_SERVER
       failoverd status undrain SERVICE REAL_SERVER
       failoverd status force-backup INSTANCE [--for 5m]
       failoverd status release INSTANCE
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
  force-backup         make an instance BACKUP for a while (default 5m)
  release              end a forced backup now`;

/** Where the agent listens: the flag, or api.listen from the config, or the default socket. */
export function resolveAddress(flags: Record<string, string | boolean>): ListenAddress {
  if (typeof flags.socket === 'string') return { kind: 'unix', path: flags.socket };
  if (typeof flags.address === 'string') return parseListenAddress(flags.address);
  if (typeof flags.config === 'string') {
    let doc: unknown;
    try {
      doc = parseYaml(readFileSync(flags.config, 'utf8'));
    } catch (err) {
      throw new Error(`cannot read ${flags.config}: ${(err as Error).message}`);
    }
    const listen = (doc as { api?: { listen?: unknown } } | null)?.api?.listen;
    if (listen === undefined) return { kind: 'unix', path: DEFAULT_SOCKET };
    if (typeof listen !== 'string') throw new Error(`${flags.config}: api.listen must be a string`);
    return parseListenAddress(listen);
  }
  return { kind: 'unix', path: DEFAULT_SOCKET };
}

export const command: Command = {
  name: 'status',
  summary: 'show the running agent\'s state; drain, force backup',
  usage,
  async run(argv) {
    const { flags, rest } = parseFlags(argv, ['json']);
    const address = resolveAddress(flags);
    const client = new ApiClient(address, typeof flags.timeout === 'string' ? Number(flags.timeout) : 5000);
    const where = address.kind === 'unix' ? address.path : `${address.host}:${address.port}`;
    try {
      const [action, ...args] = rest;
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
        if (args.length !== 2) return fail(`status ${action} needs SERVICE REAL_SERVER`);
        const result = await client.admin(action, { service: args[0], real_server: args[1] });
        process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : `${action === 'drain' ? 'drained' : 'undrained'} ${args[1]} in ${args[0]}\n`);
        return 0;
      }
      if (action === 'force-backup' || action === 'release') {
        if (args.length !== 1) return fail(`status ${action} needs INSTANCE`);
        const forMs = action === 'force-backup' ? parseDuration(typeof flags.for === 'string' ? flags.for : '5m') : 0;
        const result = await client.admin(action, { instance: args[0], for: forMs });
        process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : action === 'release' ? `released ${args[0]}\n` : `${args[0]} forced to BACKUP for ${forMs / 1000}s\n`);
        return 0;
      }
      return fail(`unknown status action "${action}"\n\n${usage}`);
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
