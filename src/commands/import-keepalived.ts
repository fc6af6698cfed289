import { readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { loadCheckPlugins } from '../../checks/index.js';
import { formatConfigError, loadConfigFile, loadConfigText } from '../config/index.js';
import {
  formatFinding,
  importKeepalived,
  NotKeepalivedError,
  realtimeNote,
  scriptsAsRootNote,
  type ImportResult,
} from '../keepalived/import.js';
import { parseCommandLine, UsageError, type Command, type CommandOptions } from './command.js';

const NAME = 'failoverd import-keepalived';

const OPTIONS = {
  output: { type: 'string' },
  node: { type: 'string' },
  explain: { type: 'boolean' },
  'allow-partial': { type: 'boolean' },
  force: { type: 'boolean' },
} as const satisfies CommandOptions;

export const command: Command = {
  name: 'import-keepalived',
  options: OPTIONS,
  summary: 'convert a keepalived.conf into a failoverd config, or refuse',
  usage: `Usage: ${NAME} FILE [--output OUT] [--node NAME] [--explain] [--allow-partial [--force]]

Converts keepalived.conf FILE (vrrp_instance, vrrp_sync_group, virtual_server and
virtual_server_group, real_server, TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK,
global_defs, include, $MACROS, @NAME conditionals, ~SEQ) into failoverd YAML on
stdout (or OUT), validated the way "failoverd check" validates.

Faithful or refused: anything failoverd would do differently from keepalived (on
the wire, in the kernel, or in a program it runs) is printed with keepalived's
file:line and the import fails (exit 1) without writing anything. Differences
that change none of those are warnings.

Options:
  --output OUT      write the YAML to OUT instead of stdout
  --node NAME       keepalived's instance name for @NAME / @^NAME lines
                    (default: this host's name, as keepalived)
  --explain         print on stderr, per keepalived block (file:line), what it became
  --allow-partial   write the result anyway, with a "# NOT CARRIED OVER:" comment at
                    each lossy spot; still exits 1
  --force           with --allow-partial: exit 0
  -h, --help        this help`,
  async run(argv) {
    const { values: flags, positionals: rest } = parseCommandLine(argv, OPTIONS, true);
    if (rest.length !== 1) throw new UsageError('expected one keepalived.conf file');
    if (flags['force'] && !flags['allow-partial']) throw new UsageError('--force only goes with --allow-partial');
    const file = rest[0]!;
    const output = typeof flags['output'] === 'string' ? flags['output'] : undefined;
    const fail = (message: string) => {
      process.stderr.write(`${NAME}: ${message}\n`);
      return 1;
    };

    const text = await readInput(file);
    if (typeof text !== 'string') return fail(text.error);
    if (output) {
      const dir = dirname(output);
      const isDir = await stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      );
      if (!isDir) return fail(`cannot write ${output}: the directory ${dir} does not exist`);
    }
    let result: ImportResult;
    try {
      const instance = typeof flags['node'] === 'string' ? flags['node'] : hostname();
      result = importKeepalived(text, file, { instance });
    } catch (err) {
      if (err instanceof NotKeepalivedError) return fail(err.message);
      throw err;
    }
    if (flags['explain']) {
      for (const e of result.explanations) process.stderr.write(`${e.file}:${e.line}: ${e.block} → ${e.became}\n`);
    }
    for (const f of result.findings) {
      process.stderr.write(`${f.kind === 'lossy' ? 'NOT CARRIED OVER' : 'warning'}: ${formatFinding(f)}\n`);
    }
    const partial = result.lossy.length > 0;
    if (partial && !flags['allow-partial']) {
      return fail(
        `${result.lossy.length} thing(s) above cannot be carried over with the same behaviour; ` +
          'nothing written (--allow-partial writes the rest, marked)',
      );
    }
    if (output) await writeFile(output, result.yaml);
    else process.stdout.write(result.yaml);
    // The written file is validated the way `failoverd check` (and so `run`) loads it.
    const checkPlugins = await loadCheckPlugins();
    const check = output
      ? await loadConfigFile(output, { checkPlugins })
      : loadConfigText(result.yaml, '<converted>', { checkPlugins, env: {} });
    if (!check.ok) {
      for (const e of check.errors) process.stderr.write(`${formatConfigError(e)}\n`);
      return fail('the converted config does not validate; see the errors above');
    }
    if (partial) {
      process.stderr.write(`${NAME}: written with ${result.lossy.length} thing(s) NOT CARRIED OVER\n`);
      return flags['force'] ? 0 : 1;
    }
    const warnings = result.findings.length;
    process.stderr.write(`converted ${file}: the same behaviour, ${warnings} warning(s); the result validates\n`);
    for (const line of [...scriptsAsRootNote(result.scriptsRunAsRoot), ...realtimeNote(result.config)]) process.stderr.write(`${line}\n`);
    return 0;
  },
};

async function readInput(file: string): Promise<string | { error: string }> {
  try {
    if ((await stat(file)).isDirectory()) return { error: `${file} is a directory, not a keepalived.conf` };
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { error: `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}` };
  }
}
