// ESLint for the TypeScript (typed rules, against the packages' own tsconfigs) and the Node scripts.
// `npm run lint` runs it after `prettier --check`; formatting is prettier's job, not ESLint's.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  {
    ignores: ['**/dist/', 'tmp/', 'coverage/', '.nx/', '.tools/', '**/.venv/', 'packages/catalyst-plugin/testdata/'],
  },

  // Node scripts: tools/, the jest configs, this file.
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.{js,cjs}'],
    languageOptions: { sourceType: 'commonjs' },
  },

  // The plugin and the end-to-end suite, with type information.
  {
    files: ['packages/catalyst-plugin/src/**/*.ts', 'packages/e2e/src/**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // tsconfig.spec.json covers all of src/ (specs and test-utils included); tsconfig.json leaves them out.
        project: ['packages/catalyst-plugin/tsconfig.spec.json', 'packages/e2e/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
);
