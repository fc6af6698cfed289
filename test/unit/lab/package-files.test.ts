// The npm package: its entry points exist, and what `failoverd lab` loads from an
// installed package (the UML harness beside it, the lab's configs, the mirror
// reader provision-uml.sh runs) is in `files`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../../../src/lab/configs.js';
import { findUmlRun } from '../../../src/lab/uml-harness.js';

const root = projectRoot();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  main?: string;
  bin?: Record<string, string>;
  exports?: unknown;
  files: string[];
};

function exportTargets(exports: unknown): string[] {
  if (typeof exports === 'string') return [exports];
  if (exports && typeof exports === 'object') return Object.values(exports).flatMap(exportTargets);
  return [];
}

const shipped = (path: string): boolean => pkg.files.some((entry) => path === entry || path.startsWith(`${entry.replace(/\/$/, '')}/`));

test('main, exports and bin point at files the build produces', () => {
  const targets = [...(pkg.main ? [pkg.main] : []), ...exportTargets(pkg.exports), ...Object.values(pkg.bin ?? {})];
  assert.ok(targets.length > 0);
  for (const target of targets) assert.ok(existsSync(join(root, target)), `${target} does not exist`);
  for (const target of targets.map((t) => t.replace(/^\.\//, ''))) {
    assert.ok(target === 'package.json' || shipped(target), `${target} is not in files`);
  }
});

test('what failoverd lab needs from an installed package is in files', () => {
  const umlRun = findUmlRun(root);
  assert.ok(umlRun, 'test/harness/uml-run.sh not found from the project root');
  const needed = [
    relative(root, umlRun),
    'test/harness/uml-kernel.sh',
    'test/harness/provision-uml.sh',
    'dist/src/lab/apt-sources.js',
    'dist/src/cli.js',
    'config/lab-a.yaml',
    'config/lab-b.yaml',
  ];
  for (const path of needed) {
    assert.ok(existsSync(join(root, path)), `${path} does not exist`);
    assert.ok(shipped(path), `${path} is not in package.json files`);
  }
});
