import { hostname } from 'node:os';
import { FederationOptionsError } from '../../src/channel/federation/federation-errors.js';
import {
  type FederationOptions,
  resolveFederation,
} from '../../src/channel/federation/federation-options.js';
import { MemoryStore } from '../helpers/memory-adapter.js';

const adapter = new MemoryStore().factory;

test('no federation option means no federation; defaults fill the rest', () => {
  expect(resolveFederation(undefined, 'c')).toBeUndefined();
  expect(resolveFederation({ redis: 'redis://localhost:6379' }, 'c')).toEqual({
    host: hostname(),
    prefix: 'ipc',
    leaseMs: 5000,
    hostTimeoutMs: 5000,
    redis: 'redis://localhost:6379',
    adapter: undefined,
  });
  const options = { adapter, host: 'web-1', prefix: 'app', leaseMs: 2000, hostTimeoutMs: 1500 };
  expect(resolveFederation(options, 'c')).toEqual({ ...options, redis: undefined });
  expect(resolveFederation({ redis: { host: 'r', port: 1 } }, 'c')!.redis).toEqual({
    host: 'r',
    port: 1,
  });
});

test('each bad federation option is a FederationOptionsError that says what it must be', () => {
  const cases: [unknown, string][] = [
    [
      'redis://x',
      `Option 'federation' of channel 'c' must be an object ({ redis } or { adapter }), got "redis://x" (a string).`,
    ],
    [
      {},
      `Option 'federation' of channel 'c' needs a store: 'redis' (a redis:// URL or ioredis options) or 'adapter'.`,
    ],
    [
      { redis: 'redis://x', adapter },
      `Option 'federation' of channel 'c' has both 'redis' and 'adapter': give exactly one store.`,
    ],
    [
      { redis: 'http://x' },
      `Option 'federation.redis' must be a 'redis://' or 'rediss://' URL, got "http://x" (a string).`,
    ],
    [
      { redis: 5 },
      `Option 'federation.redis' must be a redis:// URL or an ioredis options object, got 5.`,
    ],
    [
      { adapter: {} },
      `Option 'federation.adapter' must be a function (ctx) => FederationAdapter, got an object.`,
    ],
    [
      { adapter, host: '' },
      `Option 'federation.host' must be 1..64 characters without '/', got "" (a string).`,
    ],
    [
      { adapter, host: 'a/b' },
      `Option 'federation.host' must be 1..64 characters without '/', got "a/b" (a string).`,
    ],
    [
      { adapter, host: 'h'.repeat(65) },
      `Option 'federation.host' must be 1..64 characters without '/', got "${'h'.repeat(65)}" (a string).`,
    ],
    [{ adapter, host: 7 }, `Option 'federation.host' must be 1..64 characters without '/', got 7.`],
    [
      { adapter, prefix: '' },
      `Option 'federation.prefix' must be 1..64 characters, got "" (a string).`,
    ],
    [
      { adapter, leaseMs: 499 },
      `Option 'federation.leaseMs' must be an integer number of ms from 500 to 600000, got 499.`,
    ],
    [
      { adapter, leaseMs: 1.5 },
      `Option 'federation.leaseMs' must be an integer number of ms from 500 to 600000, got 1.5.`,
    ],
    [
      { adapter, hostTimeoutMs: 0 },
      `Option 'federation.hostTimeoutMs' must be an integer number of ms from 100 to 600000, got 0.`,
    ],
  ];
  for (const [options, message] of cases) {
    let thrown: unknown;
    try {
      resolveFederation(options as FederationOptions, 'c');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(FederationOptionsError);
    expect((thrown as FederationOptionsError).code).toBe('ERR_IPC_FEDERATION_OPTIONS');
    expect((thrown as Error).message).toBe(message);
  }
});
