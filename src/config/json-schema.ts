// config/schema.json is generated from the same zod schema the loader uses, with
// each check type's own keys, so editors (yaml-language-server) complete and check
// failoverd.yaml. Regenerate: node dist/src/config/json-schema.js [OUT]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { buildConfigSchema, type CheckPluginRegistry } from './schema.js';

export const SCHEMA_ID = 'https://github.com/failoverd/failoverd/config/schema.json';

/** The JSON Schema text (2-space JSON with a final newline) for these check plugins. */
export function configJsonSchemaText(plugins: CheckPluginRegistry): string {
  const registry = z.registry<{ id?: string }>();
  const schema = z.toJSONSchema(buildConfigSchema(plugins, { forEditors: true, registry }), {
    io: 'input',
    unrepresentable: 'any',
    target: 'draft-2020-12',
    metadata: registry,
    // Descriptions set with .meta() (a duration's range) go to the editor too.
    override: (ctx) => {
      const description = z.globalRegistry.get(ctx.zodSchema as unknown as z.ZodType)?.description;
      if (description && !ctx.jsonSchema.description) ctx.jsonSchema.description = description;
    },
  });
  const document = {
    ...schema,
    $id: SCHEMA_ID,
    title: 'failoverd configuration',
    description: 'failoverd.yaml: VRRP instances, IPVS services, health checks, alerts, schedules. See docs/config.md.',
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

async function main(): Promise<void> {
  const here = fileURLToPath(new URL('.', import.meta.url));
  // dist*/src/config → the compiled checks/ beside dist*/src, and the repo's config/.
  const { loadCheckPlugins } = (await import(new URL('../../checks/index.js', import.meta.url).href)) as {
    loadCheckPlugins: () => Promise<CheckPluginRegistry>;
  };
  const { positionals, values } = parseArgs({
    args: process.argv.slice(2),
    options: { help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help || positionals.length > 1) {
    process.stdout.write(
      'Usage: node dist/src/config/json-schema.js [OUT]\nWrites the config JSON Schema to OUT (default: config/schema.json).\n',
    );
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const out = positionals[0] ?? resolve(here, '../../../config/schema.json');
  writeFileSync(out, configJsonSchemaText(await loadCheckPlugins()));
  process.stdout.write(`wrote ${out}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}
