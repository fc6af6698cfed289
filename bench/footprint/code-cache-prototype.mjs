// code-cache-prototype.mjs [OUTDIR] — a measurement, not what ships: the agent as one
// CommonJS file run through vm.Script with a V8 code cache, to weigh that against the
// shipped ESM bundle (packaging/bundle.mjs), whose modules Node 20 cannot cache.
//   node bench/footprint/code-cache-prototype.mjs            # writes dist/code-cache-prototype/
//   node dist/bench/footprint/startup.js --cli bundle=dist/bundle/src/cli.js --cli cached=dist/code-cache-prototype/src/cli.js
// The first start writes the cache (cli.cjs.cache beside it, 3 s after start, so the
// functions start-up ran are in it); a later start whose cache V8 rejects (another node
// or other flags: cachedDataRejected) writes it again. Known gaps, why it does not ship:
// the check plugins and the checks worker are copied from dist/bundle (ESM), so a config
// with services has a second zod in the main thread; `failoverd lab` (an import() of tsc's
// build) does not run from it; the cache is written where the code is.
import { build } from 'esbuild';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const outdir = process.argv[2] ?? join(root, 'dist/code-cache-prototype');

/** As in packaging/bundle.mjs: prom-client's Pushgateway (https, TLS, zlib) is never used. */
const noPushgateway = {
  name: 'no-pushgateway',
  setup(b) {
    b.onResolve({ filter: /^\.\/lib\/pushgateway$/ }, (args) =>
      args.importer.includes('/node_modules/prom-client/') ? { path: 'pushgateway', namespace: 'no-pushgateway' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-pushgateway' }, () => ({
      contents: "module.exports = class Pushgateway { constructor() { throw new Error('prom-client Pushgateway: not bundled'); } };",
      loader: 'js',
    }));
  },
};

/**
 * import() of a computed specifier (the check plugins) through a function the ESM loader
 * defines: Node 20 loses a vm.Script's importModuleDynamically when its code comes from
 * the cache, so an import() in cached code fails ("A dynamic import callback was not specified").
 */
const importThroughLoader = {
  name: 'import-through-loader',
  setup(b) {
    b.onLoad({ filter: /\/(checks\/index|src\/config\/json-schema)\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace(/\bimport\((?!['"])/g, 'globalThis.__failoverdImport('),
      loader: 'ts',
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: [join(root, 'src/cli.ts')],
  outfile: join(outdir, 'src/cli.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // src/paths.ts finds the code root from its module's URL; here that is cli.cjs's.
  banner: { js: "const __failoverdUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__failoverdUrl' },
  external: ['node-gyp-build', './commands/lab.js'],
  plugins: [noPushgateway, importThroughLoader],
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  logLevel: 'error',
});

const loader = `#!/usr/bin/env node
// Runs cli.cjs through vm.Script with a V8 code cache (bench/footprint/code-cache-prototype.mjs).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const file = fileURLToPath(new URL('./cli.cjs', import.meta.url));
const cacheFile = process.env.FAILOVERD_CODE_CACHE ?? \`\${file}.cache\`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
globalThis.__failoverdImport = (specifier) => import(specifier);
const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8').replace(/^#!.*/, '')), { filename: file, cachedData });
if (!cachedData || script.cachedDataRejected) {
  setTimeout(() => {
    try {
      writeFileSync(cacheFile, script.createCachedData());
    } catch {
      // read-only: run without a cache
    }
  }, 3000).unref();
}
cachedData = undefined;
const mod = { exports: {} };
script.runInThisContext()(mod.exports, createRequire(file), mod, file, dirname(file));
`;
writeFileSync(join(outdir, 'src/cli.js'), loader, { mode: 0o755 });
// The check plugins and the checks worker stay the ESM bundle's (run packaging/bundle.mjs first).
for (const dir of ['checks', 'chunks', 'src/health']) cpSync(join(root, 'dist/bundle', dir), join(outdir, dir), { recursive: true });
console.log(`code-cache prototype in ${outdir}: src/cli.js runs src/cli.cjs with a V8 code cache`);
