import { readFile, writeFile } from 'node:fs/promises';
import { loadCheckPlugins } from '../../checks/index.js';
import { formatConfigError, loadConfigText } from '../config/index.js';
import { formatImportWarning, importKeepalived } from '../keepalived/import.js';
import { parseFlags, type Command } from './command.js';

export const command: Command = {
  name: 'import-keepalived',
  summary: 'convert a keepalived.conf into a failoverd config',
  usage: `Usage: failoverd import-keepalived FILE [--output OUT]

Converts keepalived.conf FILE (vrrp_instance, vrrp_sync_group, virtual_server incl.
fwmark, real_server, TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, global_defs router_id,
include) into failoverd YAML on stdout (or OUT). Each thing that cannot be carried
over is a warning on stderr with the keepalived file:line. The result is validated
like "failoverd check" does; exit status 1 when it does not validate, 0 otherwise.

Options:
  --output OUT   write the YAML to OUT instead of stdout
  -h, --help     this help`,
  async run(argv) {
    const { flags, rest } = parseFlags(argv);
    const unknown = Object.keys(flags).filter((f) => f !== 'output');
    if (unknown.length || rest.length !== 1 || flags['output'] === true) {
      process.stderr.write(`failoverd import-keepalived: ${unknown.length ? `unknown option --${unknown[0]}` : rest.length !== 1 ? 'expected one keepalived.conf file' : '--output needs a file'}\n${this.usage}\n`);
      return 2;
    }
    const file = rest[0]!;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      process.stderr.write(`failoverd import-keepalived: cannot read ${file}: ${(err as Error).message}\n`);
      return 1;
    }
    const result = importKeepalived(text, file);
    for (const w of result.warnings) process.stderr.write(`warning: ${formatImportWarning(w)}\n`);
    const output = typeof flags['output'] === 'string' ? flags['output'] : undefined;
    if (output) await writeFile(output, result.yaml);
    else process.stdout.write(result.yaml);
    const check = loadConfigText(result.yaml, output ?? '<converted>', { checkPlugins: await loadCheckPlugins(), env: {} });
    if (!check.ok) {
      for (const e of check.errors) process.stderr.write(`${formatConfigError(e)}\n`);
      process.stderr.write('failoverd import-keepalived: the converted config does not validate; fix the errors above\n');
      return 1;
    }
    process.stderr.write(`converted ${file}: ${result.warnings.length} warning(s); the result validates\n`);
    return 0;
  },
};
