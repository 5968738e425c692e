import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '.local/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.jest },
      // Type-aware rules: a promise nobody awaits loses its rejection (an unhandled rejection
      // stops Node) and its ordering, so those rules read the types through tsconfig.json.
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // Plain JavaScript config files are outside tsconfig.json: no type information there.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The web console runs in the browser (ES modules served as they are, no build step).
    files: ['control-plane/console/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Scripts, benchmarks and the muxly command line talk to a person on the terminal.
    files: ['**/scripts/**', '**/bench/**', 'control-plane/src/cli/**', '*.config.js'],
    rules: { 'no-console': 'off' },
  },
);
