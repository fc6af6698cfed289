import { checkPluginSource } from '../../checks/index.js';
import { hostname } from 'node:os';
import { loadPlan } from '../agent/load-plan.js';
import { summarizeConfig } from '../config/summary.js';
import { parseCommandLine, UsageError, type Command, type CommandOptions } from './command.js';

export const DEFAULT_CONFIG_PATH = '/etc/failoverd/failoverd.yaml';

const OPTIONS = { config: { type: 'string' }, quiet: { type: 'boolean' } } as const satisfies CommandOptions;

export const command: Command = {
  name: 'check',
  options: OPTIONS,
  summary: 'validate a config file and summarize it',
  usage: `Usage: failoverd check [--config FILE] [--quiet]

Validates FILE (default ${DEFAULT_CONFIG_PATH}) the way the agent would load it:
YAML syntax, every key and value, \${ENV} references, check options (by each
check type's schema), the rules across sections and each VRRP instance's own
rules: everything \`failoverd run\` and a reload check before they touch the
system. Prints every problem as FILE:LINE:COLUMN KEY.PATH: what was expected,
got what.

On success prints a summary (instances, services, real servers, checks) and
exits 0; warnings go to stderr. On error exits 1.

Options:
  --config FILE   the config file
  --quiet         print nothing on success
  -h, --help      this help`,
  async run(argv) {
    const { values, positionals } = parseCommandLine(argv, OPTIONS, true);
    if (positionals.length > (values.config === undefined ? 1 : 0)) throw new UsageError(`unexpected argument "${positionals.at(-1)}"`);
    const path = values.config ?? positionals[0] ?? DEFAULT_CONFIG_PATH;
    const result = await loadPlan(path, { checkPlugins: checkPluginSource() }, hostname());
    for (const w of result.ok ? [...result.warnings, ...result.plan.warnings] : result.warnings) process.stderr.write(`${w}\n`);
    if (!result.ok) {
      for (const e of result.errors) process.stderr.write(`${e}\n`);
      process.stderr.write(`${path}: ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}\n`);
      return 1;
    }
    if (!values.quiet)
      process.stdout.write(`${path}: valid\n${summarizeConfig(result.config, result.plan.services).replace(/\n?$/, '\n')}`);
    return 0;
  },
};
