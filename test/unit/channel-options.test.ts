import { resolve } from 'node:path';
import {
  type ChannelOptions,
  checkMeta,
  defaultChannelName,
  duration,
  pm2PreferredId,
  resolveOptions,
} from '../../src/channel/channel-options.js';
import { InvalidOptionError } from '../../src/channel/errors.js';
import { thrown } from '../helpers/thrown.js';

const linux = { platform: 'linux', clusterWorker: false } as const;
const MiB = 1024 * 1024;

/** The variables these options read, cleared for each test and put back after it. */
const ENV = [
  'NESTJS_IPC_TRANSPORT',
  'NESTJS_IPC_DIRECT_LINKS',
  'pm_id',
  'name',
  'NODE_APP_INSTANCE',
  'instance_var',
  'INSTANCE_ID',
];
const saved = new Map(ENV.map((k) => [k, process.env[k]]));
beforeEach(() => {
  for (const k of ENV) delete process.env[k];
});
afterEach(() => {
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

test('the defaults suit a PM2 cluster and are exactly these', () => {
  expect(resolveOptions({ name: 'x' }, linux)).toEqual({
    name: 'x',
    id: undefined,
    preferredId: undefined,
    dir: undefined,
    transport: 'unix',
    secret: undefined,
    maxFrameBytes: 64 * MiB,
    graceMs: 5000,
    highWaterMark: 8 * MiB,
    maxQueueBytes: 256 * MiB,
    connectTimeoutMs: 30_000,
    closeTimeoutMs: 5000,
    preferredIdWaitMs: 10_000,
    maxHeldBytes: 64 * MiB,
    directLinks: true,
    heartbeatIntervalMs: 1000,
    heartbeatTimeoutMs: 5000,
    stallTimeoutMs: 5000,
  });
});

test('values given are kept; a relative dir is made absolute; a string secret becomes its UTF-8 bytes', () => {
  const given: ChannelOptions = {
    name: 'app',
    id: 7,
    dir: 'sockets',
    secret: 'sé',
    maxFrameBytes: 1024,
    graceMs: 1,
    highWaterMark: 10,
    maxQueueBytes: 10,
    connectTimeoutMs: 2 ** 31 - 1,
    closeTimeoutMs: 2,
    preferredIdWaitMs: 3,
    maxHeldBytes: 4,
    directLinks: false,
    heartbeatIntervalMs: 5,
    heartbeatTimeoutMs: 10,
    stallTimeoutMs: 6,
  };
  expect(resolveOptions(given, linux)).toEqual({
    ...given,
    preferredId: undefined,
    dir: resolve('sockets'),
    transport: 'unix',
    secret: Buffer.from('sé', 'utf8'),
  });
  const secret = Buffer.from([0, 1, 2]);
  expect(resolveOptions({ name: 'x', secret }, linux).secret).toBe(secret);
});

test('the default name is the PM2 app under PM2, else the entry script', () => {
  expect(defaultChannelName()).toBe(resolve(process.argv[1]!));
  expect(resolveOptions({}, linux).name).toBe(resolve(process.argv[1]!));
  process.env.name = 'shop';
  expect(defaultChannelName()).toBe(resolve(process.argv[1]!)); // not under PM2
  process.env.pm_id = '3';
  expect(defaultChannelName()).toBe('pm2:shop');
  expect(resolveOptions({}, linux).name).toBe('pm2:shop');
});

test("PM2's preferred id is NODE_APP_INSTANCE + 1 (or the variable instance_var names); an explicit id wins", () => {
  process.env.NODE_APP_INSTANCE = '0';
  expect(pm2PreferredId()).toBeUndefined(); // not under PM2
  process.env.pm_id = '12';
  expect(pm2PreferredId()).toBe(1);
  process.env.NODE_APP_INSTANCE = '4';
  expect(resolveOptions({ name: 'x' }, linux).preferredId).toBe(5);
  expect(resolveOptions({ name: 'x', id: 9 }, linux)).toMatchObject({
    id: 9,
    preferredId: undefined,
  });
  process.env.NODE_APP_INSTANCE = '65531';
  expect(pm2PreferredId()).toBe(65532);
  for (const unusable of ['65532', '-1', '1.5', 'one', '']) {
    process.env.NODE_APP_INSTANCE = unusable;
    expect(pm2PreferredId()).toBeUndefined();
  }
  process.env.instance_var = 'INSTANCE_ID';
  process.env.INSTANCE_ID = '2';
  process.env.NODE_APP_INSTANCE = '0';
  expect(pm2PreferredId()).toBe(3);
});

test('NESTJS_IPC_DIRECT_LINKS turns direct links off with 0, false, off or no; the option wins over it', () => {
  for (const off of ['0', 'false', ' OFF ', 'No']) {
    process.env.NESTJS_IPC_DIRECT_LINKS = off;
    expect(resolveOptions({ name: 'x' }, linux).directLinks).toBe(false);
    expect(resolveOptions({ name: 'x', directLinks: true }, linux).directLinks).toBe(true);
  }
  for (const on of ['1', 'true', 'yes', '']) {
    process.env.NESTJS_IPC_DIRECT_LINKS = on;
    expect(resolveOptions({ name: 'x' }, linux).directLinks).toBe(true);
    expect(resolveOptions({ name: 'x', directLinks: false }, linux).directLinks).toBe(false);
  }
});

test('each bad option is an InvalidOptionError whose message names the option and what it must be', () => {
  const cases: [unknown, string][] = [
    [{ name: '' }, `Option 'name' must be a non-empty string, got "".`],
    [{ name: 5 }, `Option 'name' must be a non-empty string, got 5.`],
    [{ id: 0 }, `Option 'id' must be an integer from 1 to 65532, got 0.`],
    [{ id: 1.5 }, `Option 'id' must be an integer from 1 to 65532, got 1.5.`],
    [{ id: 65533 }, `Option 'id' must be an integer from 1 to 65532, got 65533.`],
    [{ id: '2' }, `Option 'id' must be an integer from 1 to 65532, got "2" (a string).`],
    [{ dir: '' }, `Option 'dir' must be a non-empty path.`],
    [{ dir: 5 }, `Option 'dir' must be a non-empty path.`],
    [{ secret: 5 }, `Option 'secret' must be a string or a Buffer.`],
    [{ secret: '' }, `Option 'secret' must not be empty.`],
    [{ secret: Buffer.alloc(0) }, `Option 'secret' must not be empty.`],
    [
      { logger: 5 },
      `Option 'logger' must have log, warn and error methods (console, or a Nest Logger), got 5.`,
    ],
    [
      { logger: null },
      `Option 'logger' must have log, warn and error methods (console, or a Nest Logger), got null.`,
    ],
    [
      { logger: {} },
      `Option 'logger' must have log, warn and error methods (console, or a Nest Logger); it lacks log, warn, error.`,
    ],
    [
      { logger: { log() {}, error() {} } },
      `Option 'logger' must have log, warn and error methods (console, or a Nest Logger); it lacks warn.`,
    ],
    [
      { meta: () => 1 },
      `Option 'meta' must be JSON data (it reaches every peer as JSON), got a function.`,
    ],
    [{ maxFrameBytes: 0 }, `Option 'maxFrameBytes' must be a positive number, got 0.`],
    [{ maxFrameBytes: 1023 }, `Option 'maxFrameBytes' must be between 1024 and 4294967295.`],
    [{ maxFrameBytes: 2 ** 32 }, `Option 'maxFrameBytes' must be between 1024 and 4294967295.`],
    [{ highWaterMark: -1 }, `Option 'highWaterMark' must be a positive number, got -1.`],
    [{ maxQueueBytes: NaN }, `Option 'maxQueueBytes' must be a positive number, got NaN.`],
    [
      { highWaterMark: 100, maxQueueBytes: 10 },
      `Option 'maxQueueBytes' must not be below 'highWaterMark'.`,
    ],
    [{ maxHeldBytes: Infinity }, `Option 'maxHeldBytes' must be a positive number, got Infinity.`],
    [{ graceMs: '5000' }, `Option 'graceMs' must be a positive number, got "5000" (a string).`],
    [{ connectTimeoutMs: 0 }, `Option 'connectTimeoutMs' must be a positive number, got 0.`],
    [
      { closeTimeoutMs: 3e9 },
      `Option 'closeTimeoutMs' must be at most 2147483647 ms (about 24.8 days), the longest a Node timer can wait; got 3000000000.`,
    ],
    [
      { preferredIdWaitMs: true },
      `Option 'preferredIdWaitMs' must be a positive number, got true.`,
    ],
    [{ directLinks: 'no' }, `Option 'directLinks' must be true or false, not "no" (a string).`],
    [{ directLinks: 0 }, `Option 'directLinks' must be true or false, not 0.`],
    [{ heartbeatIntervalMs: 0 }, `Option 'heartbeatIntervalMs' must be a positive number, got 0.`],
    [
      { heartbeatIntervalMs: 3000 },
      `Option 'heartbeatTimeoutMs' (5000) must be at least twice 'heartbeatIntervalMs' (3000), or one late heartbeat would look like a hung process.`,
    ],
    [{ stallTimeoutMs: -5 }, `Option 'stallTimeoutMs' must be a positive number, got -5.`],
  ];
  for (const [options, message] of cases) {
    const err = thrown<InvalidOptionError>(() =>
      resolveOptions({ name: 'x', ...(options as object) }, linux),
    );
    expect([options, err]).toEqual([options, expect.any(InvalidOptionError)]);
    expect(err.code).toBe('ERR_IPC_INVALID_OPTION');
    expect(err.message).toBe(message);
  }
  for (const notAnObject of [null, 'x', 5]) {
    const err = thrown<InvalidOptionError>(() => resolveOptions(notAnObject as never, linux));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err.message).toBe('Channel options must be an object.');
  }
});

test('duration: a positive number of ms a Node timer can wait, else the fallback when not given', () => {
  expect(duration('t', undefined, 7)).toBe(7);
  expect(duration('t', 0.5, 7)).toBe(0.5);
  expect(duration('t', 2 ** 31 - 1, 7)).toBe(2 ** 31 - 1);
  expect(thrown<InvalidOptionError>(() => duration('t', 2 ** 31, 7)).message).toBe(
    "Option 't' must be at most 2147483647 ms (about 24.8 days), the longest a Node timer can wait; got 2147483648.",
  );
  expect(thrown<InvalidOptionError>(() => duration('t', -5, 7)).message).toBe(
    "Option 't' must be a positive number, got -5.",
  );
  expect(thrown<InvalidOptionError>(() => duration('t', null as never, 7)).message).toBe(
    "Option 't' must be a positive number, got null.",
  );
});

test('checkMeta: JSON data passes; what JSON cannot carry is refused, naming where it was given', () => {
  for (const ok of [undefined, null, 0, 'x', [1, { a: true }], { nested: { deep: [null] } }]) {
    expect(() => checkMeta(ok, "Option 'meta'")).not.toThrow();
  }
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const refused: [unknown, RegExp][] = [
    [
      () => 1,
      /^setMeta\(meta\) must be JSON data \(it reaches every peer as JSON\), got a function\.$/,
    ],
    [
      Symbol('s'),
      /^setMeta\(meta\) must be JSON data \(it reaches every peer as JSON\), got a symbol\.$/,
    ],
    [
      10n,
      /^setMeta\(meta\) must be JSON data \(it reaches every peer as JSON\): Do not know how to serialize a BigInt\.$/,
    ],
    [
      circular,
      /^setMeta\(meta\) must be JSON data \(it reaches every peer as JSON\): Converting circular structure to JSON/,
    ],
  ];
  for (const [meta, message] of refused) {
    const err = thrown<InvalidOptionError>(() => checkMeta(meta, 'setMeta(meta)'));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err.message).toMatch(message);
  }
});
