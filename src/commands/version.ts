import { readFileSync } from 'node:fs';
import type { Command } from './command.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export const command: Command = {
  name: 'version',
  summary: 'print the version',
  usage: 'Usage: failoverd version\n\nPrints the failoverd version.',
  async run() {
    process.stdout.write(`failoverd ${packageVersion()}\n`);
    return 0;
  },
};
