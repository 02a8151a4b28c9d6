import {
  Channel,
  ChannelClosedError,
  EncodeError,
  EndpointPathTooLongError,
  FrameTooLargeError,
  InvalidEventNameError,
  InvalidOptionError,
  InvalidTargetError,
  IpcChannelError,
} from '../../src/index.js';
import { Proc, tempDir } from '../helpers/processes.js';

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.remove());

function thrown(fn: () => unknown): IpcChannelError {
  try {
    fn();
  } catch (e) {
    return e as IpcChannelError;
  }
  throw new Error('did not throw');
}

test('invalid options fail at construction with InvalidOptionError naming the option', () => {
  const cases: [object, string][] = [
    [{ id: 0 }, "'id'"],
    [{ id: 1.5 }, "'id'"],
    [{ id: 70000 }, "'id'"],
    [{ name: '' }, "'name'"],
    [{ graceMs: -1 }, "'graceMs'"],
    [{ graceMs: 1e10 }, "Option 'graceMs' must be at most 2147483647 ms"],
    [{ connectTimeoutMs: 3e9 }, "Option 'connectTimeoutMs' must be at most"],
    [{ id: '2' }, 'got "2" (a string)'],
    [{ graceMs: '5000' }, 'got "5000" (a string)'],
    [{ logger: 5 }, "Option 'logger' must have log, warn and error methods"],
    [{ logger: {} }, 'it lacks log, warn, error'],
    [{ logger: { log() {}, error() {} } }, 'it lacks warn'],
    [{ maxFrameBytes: 10 }, "'maxFrameBytes'"],
    [{ highWaterMark: 100, maxQueueBytes: 10 }, "'maxQueueBytes'"],
    [{ secret: '' }, "'secret'"],
    [{ codec: 'yaml' }, 'Unknown codec'],
    [{ codec: { encode: () => '', decode: () => 1 } }, "'name'"],
    [{ directLinks: 'no' }, `Option 'directLinks' must be true or false, not "no" (a string)`],
  ];
  for (const [options, mention] of cases) {
    const err = thrown(() => new Channel({ dir: dir.path, ...(options as object) }));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err.code).toBe('ERR_IPC_INVALID_OPTION');
    expect(err.message).toContain(mention);
  }
});

test('a socket path over the OS limit is refused instead of silently truncated', () => {
  const long = `${dir.path}/${'d'.repeat(120)}`;
  const err = thrown(() => new Channel({ name: 'x', dir: long, transport: 'unix' }));
  expect(err).toBeInstanceOf(EndpointPathTooLongError);
  expect(err.message).toContain("shorter 'dir'");
});

test('long channel names are hashed into a short socket name; different names never share one', () => {
  const a = new Channel({ name: 'n'.repeat(500), dir: dir.path, transport: 'unix' });
  const b = new Channel({ name: `${'n'.repeat(499)}m`, dir: dir.path, transport: 'unix' });
  expect(Buffer.byteLength(a.endpoint)).toBeLessThan(104);
  expect(a.endpoint).not.toBe(b.endpoint);
});

test('bad targets, reserved event names, unencodable values and oversized messages throw typed errors; nothing is queued', () => {
  const ch = new Channel({ name: 'e', dir: dir.path, maxFrameBytes: 4096 });
  for (const target of [0, -1, 1.5, 65534, 'everyone', null]) {
    const err = thrown(() => ch.to(target as never));
    expect(err).toBeInstanceOf(InvalidTargetError);
    expect(err.message).toContain("'all' or 'others'");
  }
  for (const name of ['join', 'error', 'message', 'drain', '']) {
    expect(thrown(() => ch.to(1).emit(name, 1))).toBeInstanceOf(InvalidEventNameError);
  }
  const big = thrown(() => ch.to(1).send('x'.repeat(5000)));
  expect(big).toBeInstanceOf(FrameTooLargeError);
  expect(big.message).toContain('maxFrameBytes (4096)');
  const bigint = thrown(() => ch.to(1).send({ n: 10n }));
  expect(bigint).toBeInstanceOf(EncodeError);
  expect(bigint.message).toContain("codec: 'v8'");
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  expect(thrown(() => ch.to(1).send(circular))).toBeInstanceOf(EncodeError);
  expect(ch.pendingBytes).toBe(0);
});

test('what cannot be shown as JSON still gets a typed error that names it', () => {
  const ch = new Channel({ name: 'e', dir: dir.path });
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const shownAs: [unknown, string][] = [
    [2n, 'Invalid target 2n:'],
    [NaN, 'Invalid target NaN:'],
    [Infinity, 'Invalid target Infinity:'],
    [circular, 'Invalid target [object Object]:'],
  ];
  for (const [target, text] of shownAs) {
    const err = thrown(() => ch.to(target as never));
    expect(err).toBeInstanceOf(InvalidTargetError);
    expect(err.message.startsWith(text)).toBe(true);
  }
  for (const [name, text] of [
    [undefined, 'Invalid event name undefined: it must be a non-empty string.'],
    [Symbol('s'), 'Invalid event name Symbol(s): it must be a non-empty string.'],
    [1n, 'Invalid event name 1n: it must be a non-empty string.'],
  ] as const) {
    const err = thrown(() => ch.to(1).emit(name as never, 'payload'));
    expect(err).toBeInstanceOf(InvalidEventNameError);
    expect(err.message).toBe(text);
  }
  expect(ch.pendingBytes).toBe(0);
});

test("a codec that returns no bytes, and meta that is not JSON, are refused with the codec's or option's name", () => {
  for (const bad of [5, null, undefined, { a: 1 }]) {
    const ch = new Channel({
      name: 'e',
      dir: dir.path,
      codec: { name: 'mine', encode: () => bad as never, decode: () => 1 },
    });
    const err = thrown(() => ch.to(1).send('x'));
    expect(err).toBeInstanceOf(EncodeError);
    expect(err.message).toContain("Check the value, or the 'mine' codec's encode()");
  }
  const v8 = thrown(() =>
    new Channel({ name: 'e', dir: dir.path, codec: 'v8' }).to(1).send(() => 1),
  );
  expect(v8).toBeInstanceOf(EncodeError);
  expect(v8.message).not.toContain("use { codec: 'v8' }");

  const circular: Record<string, unknown> = {};
  circular.self = circular;
  for (const meta of [1n, circular, () => 1, Symbol('m')]) {
    const err = thrown(() => new Channel({ name: 'e', dir: dir.path, meta }));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err.message).toContain("Option 'meta' must be JSON data");
    const later = thrown(() => new Channel({ name: 'e', dir: dir.path }).setMeta(meta));
    expect(later).toBeInstanceOf(InvalidOptionError);
    expect(later.message).toContain('setMeta(meta) must be JSON data');
  }
});

test('send, emit and connect after close throw ChannelClosedError', async () => {
  const ch = new Channel({ name: 'c', dir: dir.path });
  await ch.connect();
  await ch.close();
  expect(thrown(() => ch.to(1).send(1))).toBeInstanceOf(ChannelClosedError);
  expect(thrown(() => ch.to('all').emit('x', 1))).toBeInstanceOf(ChannelClosedError);
  await expect(ch.connect()).rejects.toBeInstanceOf(ChannelClosedError);
});

test('with no error listener and no logger, a lost message becomes a process warning, not silence', async () => {
  const proc = await Proc.start('unheard.js');
  try {
    const warnings = await proc.call<{ name: string; code: string; message: string }[]>('lose', {
      dir: dir.path,
      count: 3,
    });
    expect(warnings).toHaveLength(1); // one per error code every few seconds
    expect(warnings[0]).toMatchObject({
      name: 'UndeliverableError',
      code: 'ERR_IPC_UNDELIVERABLE',
    });
    expect(warnings[0]!.message).toMatch(
      /^A message to peer 9 was not delivered: no peer holds id 9\..*\(listen with channel\.on\('error'\) or pass a logger/,
    );
  } finally {
    await proc.call('close');
    await proc.kill();
  }
});
