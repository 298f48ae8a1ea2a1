// Lint rules for the TypeScript of the runtime, simulator, benchmarks and tests (npm run lint; npm test runs it).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'resources/', '.demo/', '.cache/', 'test-artifacts/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // Unused names are errors, except those that say so with a leading underscore.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // Node-RED loads each node as a CommonJS module (module.exports = function (RED) …).
      '@typescript-eslint/no-require-imports': 'off',
      // `const node = this`: Node-RED's own convention in a node's constructor.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['node', 'context'] }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['scripts/**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        window: 'readonly',
        RED: 'readonly',
        $: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
);
