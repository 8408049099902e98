import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'dist-test/**', 'node_modules/**', '.tap/**', '.node24/**', 'client-check/dist/**', 'client-check/generated/**', '.venv-schemathesis/**', 'schemathesis-report/**', '.schemathesis/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      'no-console': 'error'
    }
  },
  {
    files: ['scripts/**', 'bench/**', 'client-check/**', 'test/browser/**'],
    rules: { 'no-console': 'off' }
  },
  {
    // Plain Node scripts that run before anything is compiled.
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', process: 'readonly', __dirname: 'readonly', console: 'readonly' }
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  }
)
