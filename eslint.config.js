// Type-aware lint for every TypeScript file tsc builds. Why a rule is on, tuned or off: CONTRIBUTING.md.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeTest = {
  from: 'package',
  package: 'node:test',
  name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
};

export default tseslint.config(
  { ignores: ['dist/', 'dist-*/', 'build/', 'node_modules/', '.cache/', 'native/', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // node:test runs top-level describe/it/test itself and reports their failures.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [nodeTest] }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // `_name` marks a binding kept for its position, or a key dropped from a rest copy.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Fakes and in-memory twins implement async interfaces without awaiting; `async` keeps a throw a rejection.
      '@typescript-eslint/require-await': 'off',
      // `let { state, send } = …` where only one is reassigned reads better than two statements.
      'prefer-const': ['error', { destructuring: 'all' }],
      // A caught value handed on as a rejection is whatever was thrown; wrapping it would hide its class.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // What the bundle ships (packaging/bundle.mjs): esbuild drops the unused members of a
    // namespace import, but not of zod's `z` object, which holds its 60-odd locales (300 KB).
    files: ['src/**/*.ts', 'checks/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportDeclaration[source.value='zod'][importKind!='type'] > ImportSpecifier[imported.name='z'][importKind!='type']",
          message: "import * as z from 'zod' (packaging/bundle.mjs)",
        },
      ],
    },
  },
  {
    // Tests and benches read JSON from real tools and the API and assert on its shape.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
);
