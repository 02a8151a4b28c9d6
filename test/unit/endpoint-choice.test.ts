import { chooseTransport } from '../../src/channel/endpoint/endpoint-choice.js';
import { resolveOptions } from '../../src/channel/channel-options.js';
import { InvalidOptionError } from '../../src/channel/errors.js';

const linux = { platform: 'linux', clusterWorker: false } as const;
const linuxWorker = { platform: 'linux', clusterWorker: true } as const;
const mac = { platform: 'darwin', clusterWorker: false } as const;
const windows = { platform: 'win32', clusterWorker: false } as const;
const windowsWorker = { platform: 'win32', clusterWorker: true } as const;

test("'auto': Unix socket on Linux and macOS (cluster workers too), named pipe on Windows, loopback TCP in Windows cluster workers", () => {
  expect(chooseTransport('auto', linux)).toBe('unix');
  expect(chooseTransport('auto', linuxWorker)).toBe('unix');
  expect(chooseTransport('auto', mac)).toBe('unix');
  expect(chooseTransport('auto', { platform: 'freebsd', clusterWorker: false })).toBe('unix');
  expect(chooseTransport('auto', windows)).toBe('pipe');
  expect(chooseTransport('auto', windowsWorker)).toBe('tcp');
});

test('a forced kind is used where it can work', () => {
  expect(chooseTransport('tcp', linux)).toBe('tcp');
  expect(chooseTransport('tcp', windows)).toBe('tcp');
  expect(chooseTransport('tcp', windowsWorker)).toBe('tcp');
  expect(chooseTransport('unix', mac)).toBe('unix');
  expect(chooseTransport('pipe', windows)).toBe('pipe');
});

test('a forced kind that cannot work here is an InvalidOptionError that says what to use', () => {
  const cases: [Parameters<typeof chooseTransport>, string][] = [
    [['pipe', linux], "'pipe' (a Windows named pipe) is not available on linux"],
    [['unix', windows], "'unix' is not available on Windows"],
    [['pipe', windowsWorker], 'Windows cluster workers cannot listen on named pipes'],
  ];
  for (const [args, text] of cases) {
    let err: unknown;
    try {
      chooseTransport(...args);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as Error).message).toContain(text);
  }
});

describe('the transport option and NESTJS_IPC_TRANSPORT', () => {
  const saved = process.env.NESTJS_IPC_TRANSPORT;
  afterEach(() => {
    if (saved === undefined) delete process.env.NESTJS_IPC_TRANSPORT;
    else process.env.NESTJS_IPC_TRANSPORT = saved;
  });

  test('the option wins over the environment, which wins over auto', () => {
    delete process.env.NESTJS_IPC_TRANSPORT;
    expect(resolveOptions({ name: 'x' }, windowsWorker).transport).toBe('tcp');
    expect(resolveOptions({ name: 'x' }, windows).transport).toBe('pipe');
    process.env.NESTJS_IPC_TRANSPORT = 'tcp';
    expect(resolveOptions({ name: 'x' }, linux).transport).toBe('tcp');
    expect(resolveOptions({ name: 'x', transport: 'unix' }, linux).transport).toBe('unix');
    process.env.NESTJS_IPC_TRANSPORT = '';
    expect(resolveOptions({ name: 'x' }, linux).transport).toBe('unix');
  });

  test('an unknown kind is refused, naming where it came from', () => {
    expect(() => resolveOptions({ name: 'x', transport: 'udp' as never }, linux)).toThrow(
      "Option 'transport' must be 'auto', 'unix', 'pipe' or 'tcp', got \"udp\".",
    );
    process.env.NESTJS_IPC_TRANSPORT = 'TCP';
    expect(() => resolveOptions({ name: 'x' }, linux)).toThrow(
      "NESTJS_IPC_TRANSPORT must be 'auto', 'unix', 'pipe' or 'tcp', got \"TCP\".",
    );
  });
});
