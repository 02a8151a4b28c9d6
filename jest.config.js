/**
 * NEST_MAJOR=11 runs the Nest tests against the second install in compat/nest11: in-process
 * imports are mapped there, and fixtures are compiled into that folder so child processes
 * resolve Nest 11 from it too.
 */
const nest11 = process.env.NEST_MAJOR === '11';
/** JEST_SUITE=pack runs only the packaging test (it installs from the registry). */
const pack = process.env.JEST_SUITE === 'pack';
/**
 * JEST_SUITE=tcp (npm run test:tcp, with NESTJS_IPC_TRANSPORT=tcp) runs the channel's
 * multi-process suite (test/integration) and its in-process one (test/channel) again with every
 * Channel on loopback TCP instead of Unix sockets.
 */
const tcp = process.env.JEST_SUITE === 'tcp';
const compat = '<rootDir>/compat/nest11/node_modules';

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    ...(nest11
      ? {
          '^@nestjs/(.*)$': `${compat}/@nestjs/$1`,
          '^rxjs(.*)$': `${compat}/rxjs$1`,
          '^reflect-metadata$': `${compat}/reflect-metadata`,
        }
      : {}),
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testMatch: pack
    ? ['<rootDir>/test/pack/**/*.test.ts']
    : tcp
      ? ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/channel/**/*.test.ts']
      : nest11
        ? ['<rootDir>/test/nest/**/*.test.ts']
        : ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: pack ? ['/node_modules/'] : ['/node_modules/', '<rootDir>/test/pack/'],
  testTimeout: 60_000,
  globalSetup: '<rootDir>/test/global-setup.js',
};
