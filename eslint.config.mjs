// @ts-check
// ESLint flat config as the Nest starter sets it up: typescript-eslint's type-checked
// rules, with formatting left to Prettier (`npm run lint` runs both checks).
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'eslint.config.mjs',
      'dist/',
      '.test-dist/',
      '.bench-tmp/',
      'coverage/',
      'test-results/',
      'bench/results/',
      'test/fixtures/contracts/',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.jest },
      sourceType: 'commonjs',
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-floating-promises': 'warn',
      '@typescript-eslint/no-unsafe-argument': 'warn',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Promise wrappers pass a caught value on as it is; wrapping it would change what callers see.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  // Tests and benches read JSON answers, which are `any` by nature.
  {
    files: ['test/**/*.ts', 'src/**/*.spec.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // Test doubles implement async interfaces with values at hand.
      '@typescript-eslint/require-await': 'off',
    },
  },
  // Plain JS (the llama-server stand-in, Jest transformers, bench scripts) is CommonJS, not in the TS project.
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
