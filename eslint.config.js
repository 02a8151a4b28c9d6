import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '**/.test-build/',
      'build-check/',
      'coverage/',
      'sample/dist/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        clearImmediate: 'readonly',
        queueMicrotask: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  // The layers' boundaries (see docs/architecture.md). Each block lists what a folder may not
  // import; a later block for the same files replaces the rule, so each repeats the Nest ban.
  {
    files: ['src/channel/**/*.ts'],
    rules: {
      // The channel layer is framework-free: the Nest binding depends on it, never the reverse.
      'no-restricted-imports': ['error', { patterns: channelBans() }],
    },
  },
  {
    files: ['src/channel/wire/**/*.ts'],
    rules: {
      // Framing and codecs stand alone: only the typed errors (a leaf module) from outside.
      'no-restricted-imports': [
        'error',
        {
          patterns: channelBans({
            group: ['../*', '!../errors.js'],
            message: 'wire/ imports nothing of the channel but errors.ts.',
          }),
        },
      ],
    },
  },
  {
    files: ['src/channel/errors.ts', 'src/channel/util/**/*.ts', 'src/channel/io/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: channelBans({
            group: [
              '**/hub/*',
              '**/peer/*',
              '**/direct/*',
              '**/election/*',
              '**/endpoint/*',
              '**/channel.js',
            ],
            message: 'errors, util and io sit below every role: they import none of them.',
          }),
        },
      ],
    },
  },
  {
    files: ['src/channel/hub/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: channelBans({
            group: ['**/peer/*', '**/direct/*', '**/channel.js', '**/channel-target.js'],
            message: 'The hub serves peers; it never imports the peer side.',
          }),
        },
      ],
    },
  },
  {
    files: [
      'src/channel/direct/**/*.ts',
      'src/channel/endpoint/**/*.ts',
      'src/channel/election/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: channelBans({
            group: ['**/hub/*', '**/peer/*', '**/channel.js', '**/channel-target.js'],
            message: 'Endpoints, elections and direct links know neither the hub nor the peer.',
          }),
        },
      ],
    },
  },
  {
    files: ['src/compat/**/*.ts'],
    rules: {
      // ipchannel's API over the channel alone: it works without Nest installed.
      'no-restricted-imports': ['error', { patterns: channelBans() }],
    },
  },
  ...optionalPeerBlocks(),
  {
    // The ipchannel examples the compat tests run as CommonJS applications.
    files: ['test/compat/examples/**/*.cjs', 'test/compat/examples/readme/index.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

/** What no file of src/channel may import, plus one more group for a folder. */
function channelBans(extra) {
  const bans = [
    {
      group: ['@nestjs/*', 'rxjs', 'rxjs/*', '**/nest/*', '**/nest/**'],
      message: 'src/channel is framework-free: the Nest binding depends on it, never the reverse.',
    },
  ];
  return extra === undefined ? bans : [...bans, extra];
}

/**
 * Integrations are optional peers: each is loaded only by its own entry point, so that an app
 * that does not import that entry point needs none of them installed. (A rule of its own, so
 * that the layer bans above, which use no-restricted-imports, stay as they are.)
 */
function optionalPeerBlocks() {
  const peers = [
    { dir: 'src/metrics', entry: 'nestjs-ipc-channel/metrics', packages: ['prom-client'] },
    { dir: 'src/terminus', entry: 'nestjs-ipc-channel/terminus', packages: ['@nestjs/terminus'] },
    { dir: 'src/tracing', entry: 'nestjs-ipc-channel/tracing', packages: ['@opentelemetry/*'] },
    {
      // No entry of its own: the bridge imports it dynamically when federation.redis is set.
      dir: 'src/channel/federation/redis',
      entry: 'loaded by the federation.redis option',
      packages: ['ioredis'],
    },
    {
      dir: 'src/socket-io',
      entry: 'nestjs-ipc-channel/socket.io',
      packages: [
        'socket.io',
        'socket.io-adapter',
        '@nestjs/platform-socket.io',
        '@nestjs/websockets',
      ],
    },
  ];
  const bans = (except) =>
    peers
      .filter((p) => p !== except)
      .map((p) => ({
        group: p.packages.flatMap((name) => [name, `${name}/*`]),
        message: `Only ${p.dir} (${p.entry}) may load ${p.packages.join(', ')}.`,
      }));
  const rule = (except) => ({
    '@typescript-eslint/no-restricted-imports': ['error', { patterns: bans(except) }],
  });
  return [
    {
      files: ['src/**/*.ts'],
      ignores: peers.map((p) => `${p.dir}/**`),
      rules: rule(undefined),
    },
    ...peers.map((p) => ({ files: [`${p.dir}/**/*.ts`], rules: rule(p) })),
  ];
}
