/**
 * The `federation` option through the Nest layer: IpcServer and IpcClient of one process must
 * agree on it (defaults applied; Redis credentials shown only as set), two hosts of one channel
 * may share a process, and IpcModule hands it to both.
 */
import 'reflect-metadata';
import { hostname } from 'node:os';
import { Test } from '@nestjs/testing';
import { IpcClient, IpcModule, IpcOptionsMismatchError, IpcServer } from '../../src/index.js';
import { type TempDir, tempDir } from '../helpers/temp-dir.js';
import { thrown } from '../helpers/thrown.js';

let dir: TempDir;
const closers: (() => Promise<unknown>)[] = [];
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  dir.remove();
});

function mismatch(fn: () => unknown): IpcOptionsMismatchError {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(IpcOptionsMismatchError);
  return e as IpcOptionsMismatchError;
}

function server(options: Record<string, unknown>): IpcServer {
  const s = new IpcServer({ name: 'fedopts', dir: dir.path, ...options });
  closers.push(() => s.close());
  return s;
}

test('a client with another federation than its server fails at once; passwords never shown', () => {
  server({ federation: { host: 'A', redis: 'redis://app:pw-one@redis.internal:6379/0' } });
  const e = mismatch(
    () =>
      new IpcClient({
        name: 'fedopts',
        dir: dir.path,
        federation: { host: 'A', redis: 'redis://app:pw-two@redis.internal:6379/0' },
      }),
  );
  const shown = '{ host: "A", redis: "redis://app:(set)@redis.internal:6379/0" }';
  expect(e.differences).toEqual([
    {
      option: 'federation',
      first: `${shown} (one Redis credential or adapter)`,
      second: `${shown} (another)`,
    },
  ]);
  expect(e.message).not.toMatch(/pw-one|pw-two/);
});

test('federation on one side only, or Redis options with other credentials, are named; secrets masked at any depth', () => {
  server({});
  const e = mismatch(
    () =>
      new IpcClient({
        name: 'fedopts',
        dir: dir.path,
        federation: {
          host: 'A',
          redis: { host: 'r', password: 'pw', tls: { key: 'PRIVATE', servername: 'r' } },
        },
      }),
  );
  expect(e.differences).toEqual([
    {
      option: 'federation',
      first: 'not set (default)',
      second:
        '{ host: "A", redis: {"host":"r","password":"(set)","tls":{"key":"(set)","servername":"r"}} }',
    },
  ]);
  expect(e.message).not.toMatch(/PRIVATE|"pw"/);
});

test("defaults apply before comparing: no host is this machine's name, and key order does not matter", () => {
  server({ federation: { redis: { port: 6380, host: 'r' } } });
  const client = new IpcClient({
    name: 'fedopts',
    dir: dir.path,
    federation: {
      host: hostname(),
      redis: { host: 'r', port: 6380 },
      leaseMs: 5000,
      prefix: 'ipc',
    },
  });
  closers.push(() => client.close());
});

test('two hosts of one federated channel may live in one process (each its own directory)', () => {
  server({ federation: { host: 'A', redis: 'redis://r' } });
  const other = tempDir();
  closers.push(async () => other.remove());
  const b = new IpcServer({
    name: 'fedopts',
    dir: other.path,
    federation: { host: 'B', redis: 'redis://r' },
  });
  closers.push(() => b.close());
});

test('IpcModule gives its federation option to its IpcServer and IpcClient alike', async () => {
  const federation = { host: 'A', redis: 'redis://r:6379' };
  const moduleRef = await Test.createTestingModule({
    imports: [IpcModule.forRoot({ name: 'fedopts', dir: dir.path, federation })],
  }).compile();
  closers.push(() => moduleRef.close());
  // A client given other federation options than the module's server disagrees with it.
  const e = mismatch(
    () =>
      new IpcClient({
        name: 'fedopts',
        dir: dir.path,
        federation: { host: 'A', redis: 'redis://other:6379' },
      }),
  );
  expect(e.users).toEqual(['IpcServer', 'IpcClient']);
  expect(e.differences.map((d) => [d.option, d.first])).toEqual([
    ['federation', '{ host: "A", redis: "redis://r:6379" }'],
  ]);
  // The module's own client agrees with its server: made without a mismatch, same options.
  expect(moduleRef.get(IpcClient)).toBeInstanceOf(IpcClient);
  expect(moduleRef.get(IpcServer)).toBeInstanceOf(IpcServer);
});
