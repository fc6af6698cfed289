import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { parseCommandLine, type Command, type CommandOptions } from './command.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

const OPTIONS = {} as const satisfies CommandOptions;

export const command: Command = {
  name: 'version',
  options: OPTIONS,
  summary: 'print the version',
  usage: 'Usage: failoverd version\n\nPrints the failoverd version.',
  async run(argv) {
    parseCommandLine(argv, OPTIONS);
    process.stdout.write(`failoverd ${packageVersion()}\n`);
    return 0;
  },
};
