// One ava configuration for the whole workspace: TypeScript through ts-node in transpile-only mode.
module.exports = {
  files: ['packages/*/test/**/*.test.ts', 'tools/*/test/**/*.test.ts'],
  extensions: { ts: 'commonjs' },
  require: ['ts-node/register/transpile-only', './tools/scripts/ava-setup.js'],
  timeout: '5m',
  workerThreads: false,
  environmentVariables: { TS_NODE_TRANSPILE_ONLY: 'true' },
};
