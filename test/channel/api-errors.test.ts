import {
  ChannelClosedError,
  EncodeError,
  EndpointPathTooLongError,
  FrameTooLargeError,
  InvalidEventNameError,
  InvalidOptionError,
  InvalidTargetError,
  IpcChannelError,
} from '../../src/index.js';
import { sandbox } from '../helpers/sandbox.js';
import { thrown } from '../helpers/thrown.js';

const box = sandbox({ name: 'e' });

// Each option's rules and messages are in test/unit/channel-options.test.ts; the codec's are
// the constructor's own.
test('invalid options fail at construction with InvalidOptionError naming the option', () => {
  const cases: [object, string][] = [
    [{ id: 0 }, "'id'"],
    [{ graceMs: '5000' }, 'got "5000" (a string)'],
    [{ logger: {} }, 'it lacks log, warn, error'],
    [{ codec: 'yaml' }, 'Unknown codec'],
    [{ codec: { encode: () => '', decode: () => 1 } }, "'name'"],
  ];
  for (const [options, mention] of cases) {
    const err = thrown<IpcChannelError>(() => box.channel(options));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err.code).toBe('ERR_IPC_INVALID_OPTION');
    expect(err.message).toContain(mention);
  }
});

test('a socket path over the OS limit is refused instead of silently truncated', () => {
  const long = `${box.dir}/${'d'.repeat(120)}`;
  const err = thrown<IpcChannelError>(() => box.channel({ dir: long, transport: 'unix' }));
  expect(err).toBeInstanceOf(EndpointPathTooLongError);
  expect(err.message).toContain("shorter 'dir'");
});

test('long channel names are hashed into a short socket name; different names never share one', () => {
  const a = box.channel({ name: 'n'.repeat(500), transport: 'unix' });
  const b = box.channel({ name: `${'n'.repeat(499)}m`, transport: 'unix' });
  expect(Buffer.byteLength(a.endpoint)).toBeLessThan(104);
  expect(a.endpoint).not.toBe(b.endpoint);
});

test('bad targets, reserved event names, unencodable values and oversized messages throw typed errors; nothing is queued', () => {
  const ch = box.channel({ maxFrameBytes: 4096 });
  for (const target of [0, -1, 1.5, 65534, 'everyone', null]) {
    const err = thrown<IpcChannelError>(() => ch.to(target as never));
    expect(err).toBeInstanceOf(InvalidTargetError);
    expect(err.message).toContain("'all', 'others' or 'host'");
  }
  for (const name of ['join', 'error', 'message', 'drain', '']) {
    expect(thrown<IpcChannelError>(() => ch.to(1).emit(name, 1))).toBeInstanceOf(
      InvalidEventNameError,
    );
  }
  const big = thrown<IpcChannelError>(() => ch.to(1).send('x'.repeat(5000)));
  expect(big).toBeInstanceOf(FrameTooLargeError);
  expect(big.message).toContain('maxFrameBytes (4096)');
  const bigint = thrown<IpcChannelError>(() => ch.to(1).send({ n: 10n }));
  expect(bigint).toBeInstanceOf(EncodeError);
  expect(bigint.message).toContain("codec: 'v8'");
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  expect(thrown<IpcChannelError>(() => ch.to(1).send(circular))).toBeInstanceOf(EncodeError);
  expect(ch.pendingBytes).toBe(0);
});

test('what cannot be shown as JSON still gets a typed error that names it', () => {
  const ch = box.channel();
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const shownAs: [unknown, string][] = [
    [2n, 'Invalid target 2n:'],
    [NaN, 'Invalid target NaN:'],
    [Infinity, 'Invalid target Infinity:'],
    [circular, 'Invalid target [object Object]:'],
  ];
  for (const [target, text] of shownAs) {
    const err = thrown<IpcChannelError>(() => ch.to(target as never));
    expect(err).toBeInstanceOf(InvalidTargetError);
    expect(err.message.startsWith(text)).toBe(true);
  }
  for (const [name, text] of [
    [undefined, 'Invalid event name undefined: it must be a non-empty string.'],
    [Symbol('s'), 'Invalid event name Symbol(s): it must be a non-empty string.'],
    [1n, 'Invalid event name 1n: it must be a non-empty string.'],
  ] as const) {
    const err = thrown<IpcChannelError>(() => ch.to(1).emit(name as never, 'payload'));
    expect(err).toBeInstanceOf(InvalidEventNameError);
    expect(err.message).toBe(text);
  }
  expect(ch.pendingBytes).toBe(0);
});

test("a codec that returns no bytes, and meta that is not JSON, are refused with the codec's or option's name", () => {
  for (const bad of [5, null, undefined, { a: 1 }]) {
    const ch = box.channel({
      codec: { name: 'mine', encode: () => bad as never, decode: () => 1 },
    });
    const err = thrown<IpcChannelError>(() => ch.to(1).send('x'));
    expect(err).toBeInstanceOf(EncodeError);
    expect(err.message).toContain("Check the value, or the 'mine' codec's encode()");
  }
  const v8 = thrown<IpcChannelError>(() =>
    box
      .channel({ codec: 'v8' })
      .to(1)
      .send(() => 1),
  );
  expect(v8).toBeInstanceOf(EncodeError);
  expect(v8.message).not.toContain("use { codec: 'v8' }");

  const circular: Record<string, unknown> = {};
  circular.self = circular;
  for (const meta of [1n, circular, () => 1, Symbol('m')]) {
    const err = thrown<IpcChannelError>(() => box.channel({ meta }));
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect(err.message).toContain("Option 'meta' must be JSON data");
    const later = thrown<IpcChannelError>(() => box.channel().setMeta(meta));
    expect(later).toBeInstanceOf(InvalidOptionError);
    expect(later.message).toContain('setMeta(meta) must be JSON data');
  }
});

test('send, emit and connect after close throw ChannelClosedError', async () => {
  const ch = box.channel();
  await ch.connect();
  await ch.close();
  expect(thrown<IpcChannelError>(() => ch.to(1).send(1))).toBeInstanceOf(ChannelClosedError);
  expect(thrown<IpcChannelError>(() => ch.to('all').emit('x', 1))).toBeInstanceOf(
    ChannelClosedError,
  );
  await expect(ch.connect()).rejects.toBeInstanceOf(ChannelClosedError);
});
