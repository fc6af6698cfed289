// Finds the check plugins at run time: every *.js sibling of this file that exports
// `plugin` is a check type, so adding a check type is adding one file to checks/.
// An agent imports only the types its config names (checkPluginSource): an HTTP
// check's client, a DNS codec or TLS are loaded when a check uses them.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CheckPlugin } from '../src/health/check.js';
import type { CheckPluginSource } from '../src/config/schema.js';
import { codeRoot } from '../src/paths.js';

export type { CheckPlugin } from '../src/health/check.js';

/** checks/ of this build (tsc's dist/checks, or the bundle's dist/bundle/checks). */
const here = (): string => join(codeRoot(), 'checks');

function isCheckPlugin(value: unknown): value is CheckPlugin {
  if (!value || typeof value !== 'object') return false;
  const p = value as Partial<CheckPlugin>;
  return (
    typeof p.type === 'string' &&
    /^[a-z][a-z0-9_-]*$/.test(p.type) &&
    typeof p.description === 'string' &&
    typeof p.run === 'function' &&
    !!p.options &&
    typeof (p.options as { safeParse?: unknown }).safeParse === 'function'
  );
}

/**
 * Imports every `*.js` file beside this one (not index.js) and collects the ones
 * that export `plugin`. Files without `plugin` are skipped; a malformed `plugin`
 * or two files claiming one type name is an error naming the files.
 */
export async function loadCheckPlugins(directory: string = here()): Promise<ReadonlyMap<string, CheckPlugin>> {
  const names = (await readdir(directory)).filter((n) => n.endsWith('.js') && n !== 'index.js').sort();
  const plugins = new Map<string, CheckPlugin>();
  const origin = new Map<string, string>();
  for (const name of names) {
    const mod = (await import(pathToFileURL(join(directory, name)).href)) as { plugin?: unknown };
    if (mod.plugin === undefined) continue;
    if (!isCheckPlugin(mod.plugin)) {
      throw new Error(
        `check plugin ${join(directory, name)}: "plugin" must have type (lowercase name), description, options (a zod schema) and run()`,
      );
    }
    const previous = origin.get(mod.plugin.type);
    if (previous) throw new Error(`check type "${mod.plugin.type}" is defined twice: ${previous} and ${name}`);
    plugins.set(mod.plugin.type, mod.plugin);
    origin.set(mod.plugin.type, name);
  }
  return plugins;
}

const TYPE_NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * The plugins of those of these types that have a file named after them (http → http.js)
 * defining them; other names are skipped, and other files not imported (nor checked).
 */
export async function loadCheckPluginsOfTypes(
  types: Iterable<string>,
  directory: string = here(),
): Promise<ReadonlyMap<string, CheckPlugin>> {
  const plugins = new Map<string, CheckPlugin>();
  for (const type of new Set(types)) {
    const file = join(directory, `${type}.js`);
    if (!TYPE_NAME.test(type) || type === 'index' || !existsSync(file)) continue;
    const mod = (await import(pathToFileURL(file).href)) as { plugin?: unknown };
    if (isCheckPlugin(mod.plugin) && mod.plugin.type === type) plugins.set(type, mod.plugin);
  }
  return plugins;
}

/** checks/ (or `directory`) as a CheckPluginSource: the named types first, every plugin when asked. */
export function checkPluginSource(directory: string = here()): CheckPluginSource {
  let all: Promise<ReadonlyMap<string, CheckPlugin>> | undefined;
  return {
    ofTypes: (types) => loadCheckPluginsOfTypes(types, directory),
    all: () => (all ??= loadCheckPlugins(directory)),
  };
}
