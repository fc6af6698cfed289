// bundle.mjs [OUTDIR] — the shipped binary: src/cli.ts and everything it loads as a
// few ESM files in dist/bundle (default), instead of ~400 modules of dist/ and
// node_modules/ resolved, read and compiled one by one at every start (issue 15;
// docs/install.md, "Start-up and footprint"). Tests keep running tsc's dist/.
//   dist/bundle/src/cli.js                   the entry (package.json "bin", the .deb's wrapper)
//   dist/bundle/src/health/monitor-worker.js the checks worker's entry (src/paths.ts finds it)
//   dist/bundle/checks/<type>.js             one entry per check type: checks/index.ts lists
//                                            this directory and imports only the configured types
//   dist/bundle/chunks/                      code shared by the entries, and what they import lazily
// Each lazy import stays a chunk of its own, so a config without metrics, webhooks or
// TLS checks does not load them. `failoverd lab` stays tsc's (dist/src/commands/lab.js):
// it spawns its own scripts and the CLI by their dist/ paths.
import { build } from 'esbuild';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = process.argv[2] ?? join(root, 'dist/bundle');

const checkTypes = readdirSync(join(root, 'checks'))
  .filter((name) => name.endsWith('.ts') && name !== 'index.ts' && !name.endsWith('.d.ts'))
  .map((name) => join(root, 'checks', name));

/** cli.ts's `import('./commands/lab.js')`, pointed from dist/bundle/src/cli.js at dist/src/commands/lab.js. */
const labFromDist = {
  name: 'lab-from-dist',
  setup(b) {
    b.onResolve({ filter: /^\.\/commands\/lab\.js$/ }, (args) =>
      args.importer === join(root, 'src/cli.ts') ? { path: '../../src/commands/lab.js', external: true } : undefined,
    );
  },
};

/**
 * prom-client's parts that failoverd never uses, as stand-ins that say so, because
 * loading them costs every start (issue 15):
 * - the Pushgateway (Prometheus scrapes failoverd): the real one loads http, https,
 *   TLS and zlib;
 * - the AggregatorRegistry, for Node's cluster module, which failoverd does not use:
 *   the real one loads `cluster` and its six modules;
 * - @opentelemetry/api, which prom-client reads only for exemplars, never enabled
 *   here: 40 KB compiled at every start. The stand-in is the API's own answer when no
 *   tracer is installed: no active span.
 */
const PROM_CLIENT_STANDINS = {
  './lib/pushgateway':
    "module.exports = class Pushgateway { constructor() { throw new Error('prom-client Pushgateway: not in the failoverd bundle'); } };",
  './lib/cluster':
    "module.exports = class AggregatorRegistry { constructor() { throw new Error('prom-client AggregatorRegistry: not in the failoverd bundle'); } };",
  '@opentelemetry/api': 'module.exports = { trace: { getSpan: () => undefined }, context: { active: () => undefined } };',
};
const promClientStandins = {
  name: 'prom-client-standins',
  setup(b) {
    b.onResolve({ filter: /^(\.\/lib\/(pushgateway|cluster)|@opentelemetry\/api)$/ }, (args) =>
      args.importer.includes('/node_modules/prom-client/') ? { path: args.path, namespace: 'prom-client-standin' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'prom-client-standin' }, (args) => ({ contents: PROM_CLIENT_STANDINS[args.path], loader: 'js' }));
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: [join(root, 'src/cli.ts'), join(root, 'src/health/monitor-worker.ts'), ...checkTypes],
  outbase: root,
  outdir,
  entryNames: '[dir]/[name]',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The CommonJS dependencies (pino, undici, prom-client, cron) call require()
  // for Node's own modules; an ES module has no require of its own.
  banner: { js: "import { createRequire as __failoverdRequire } from 'node:module'; const require = __failoverdRequire(import.meta.url);" },
  // node-gyp-build finds the native addon at run time from the package root (src/net/native.ts).
  external: ['node-gyp-build'],
  plugins: [labFromDist, promClientStandins],
  minifyWhitespace: true,
  minifySyntax: true,
  // No keepNames: its __name() call after every function and class, run at load and
  // inside hot functions (zod's), cost a start 40–60 ms of CPU and 4 MB of RSS
  // (bench/footprint/startup.ts, issue 15). Identifiers are not minified, so only a
  // name esbuild renamed to avoid a clash (otel's classes, a few helpers) shows as such.
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
const bytes = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`bundle: ${outputs.length} files, ${(bytes / 1024).toFixed(0)} KiB in ${outdir}`);
// What each output holds, by input (esbuild's analyzer reads it): FAILOVERD_BUNDLE_META=FILE.
if (process.env.FAILOVERD_BUNDLE_META) writeFileSync(process.env.FAILOVERD_BUNDLE_META, JSON.stringify(result.metafile));
