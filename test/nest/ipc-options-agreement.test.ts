/**
 * In one process an IpcServer and its IpcClients share one channel: options that disagree fail
 * at startup with IpcOptionsMismatchError naming both sets; a client without options follows
 * the server; a client given another channel name deliberately talks to that channel.
 */
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { ClientsModule, MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom } from 'rxjs';
import {
  Channel,
  IpcClient,
  IpcModule,
  IpcOptionsMismatchError,
  IpcServer,
} from '../../src/index.js';
import { type TempDir, tempDir } from '../helpers/temp-dir.js';
import { thrown } from '../helpers/thrown.js';

@Controller()
class SumController {
  @MessagePattern('sum')
  sum(@Payload() xs: number[]) {
    return xs.reduce((a, b) => a + b, 0);
  }
}

let dir: TempDir;
const closers: (() => Promise<unknown>)[] = [];
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  dir.remove();
});

test('a server made after a client of the same channel with other options fails at once, naming both sets', () => {
  const client = new IpcClient({ name: 'agree', dir: dir.path, graceMs: 1000, timeout: 200 });
  closers.push(() => client.close());
  const err = thrown(() => new IpcServer({ name: 'agree', dir: dir.path, secret: 's3cret' }));
  expect(err).toBeInstanceOf(IpcOptionsMismatchError);
  const e = err as IpcOptionsMismatchError;
  expect(e.code).toBe('ERR_IPC_OPTIONS_MISMATCH');
  expect(e.users).toEqual(['IpcClient', 'IpcServer']);
  expect(e.differences).toEqual([
    { option: 'secret', first: 'not set', second: 'set' },
    { option: 'graceMs', first: '1000', second: '5000 (default)' },
  ]);
  const d = JSON.stringify(dir.path);
  expect(e.message).toBe(
    `The IpcClient and the IpcServer of this process must share one channel, but their options differ: secret is not set for the IpcClient but set for the IpcServer; graceMs is 1000 for the IpcClient but 5000 (default) for the IpcServer. The IpcClient has { name: "agree", dir: ${d}, graceMs: 1000 }; the IpcServer has { name: "agree", dir: ${d}, secret: (set) }. Give both the same options (IpcModule.forRoot(options) keeps them in one place), or give the IpcClient no channel options: it then uses the IpcServer's.`,
  );
  expect(e.message).not.toContain('s3cret');
});

test('the same name in another directory is one mistake, not two channels', () => {
  const other = tempDir();
  try {
    const server = new IpcServer({ name: 'agree', dir: dir.path });
    closers.push(() => server.close());
    const err = thrown(() => new IpcClient({ name: 'agree', dir: other.path }));
    expect(err).toBeInstanceOf(IpcOptionsMismatchError);
    expect((err as IpcOptionsMismatchError).differences).toEqual([
      { option: 'dir', first: JSON.stringify(dir.path), second: JSON.stringify(other.path) },
    ]);
  } finally {
    other.remove();
  }
});

test('a ClientsModule client that disagrees with IpcModule fails the app at startup', async () => {
  // An app that fails to start leaves its client made and never closed (a process would exit
  // here): its own channel name keeps it from binding the tests that follow.
  @Module({
    imports: [
      IpcModule.forRoot({ name: 'startup', dir: dir.path }),
      ClientsModule.register([
        {
          name: 'IPC',
          customClass: IpcClient,
          options: { name: 'startup', dir: dir.path, codec: 'v8' },
        },
      ]),
    ],
  })
  class AppModule {}
  const err = await Test.createTestingModule({ imports: [AppModule] })
    .compile()
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(IpcOptionsMismatchError);
  // Nest makes the ClientsModule client first; the IpcServer of IpcModule is refused.
  expect((err as IpcOptionsMismatchError).users).toEqual(['IpcClient', 'IpcServer']);
  expect((err as IpcOptionsMismatchError).differences).toEqual([
    { option: 'codec', first: '"v8"', second: '"json" (default)' },
  ]);
});

test('options that agree once defaults are applied are one channel', async () => {
  const server = new IpcServer({ name: 'agree', dir: dir.path });
  const client = new IpcClient({ name: 'agree', dir: dir.path, graceMs: 5000, codec: 'json' });
  closers.push(
    () => server.close(),
    () => client.close(),
  );
  await client.connect();
  await new Promise<void>((resolve, reject) =>
    server.listen((e) => (e === undefined ? resolve() : reject(e as Error))),
  );
  expect(client.unwrap<Channel>()).toBe(server.unwrap<Channel>());
});

test('a client given no options before the server exists takes the defaults; the server then fails to start, naming both', async () => {
  @Module({
    imports: [ClientsModule.register([{ name: 'IPC', customClass: IpcClient }])],
    controllers: [SumController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const client = moduleRef.get<IpcClient>('IPC');
  closers.push(() => moduleRef.close());
  // A default-named channel, in this test's directory so the test leaves nothing behind.
  process.env.NESTJS_IPC_DIR = dir.path;
  try {
    await client.connect(); // used before the server was made: joins the default channel
    const server = new IpcServer({ name: 'agree', dir: dir.path });
    const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    const err = await app.listen().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcOptionsMismatchError);
    const e = err as IpcOptionsMismatchError;
    expect(e.users).toEqual(['IpcClient', 'IpcServer']);
    expect(e.differences.map((d) => d.option)).toEqual(['name', 'dir']);
    expect(e.message).toContain(
      'The IpcClient has no channel options (it joined before any IpcServer existed, so it took the defaults); the IpcServer has { name: "agree"',
    );
    await app.close();
  } finally {
    delete process.env.NESTJS_IPC_DIR;
  }
});

test('a client given another channel name talks to that channel, beside the server', async () => {
  const server = new IpcServer({ name: 'agree', dir: dir.path });
  const billing = new IpcClient({ name: 'billing', dir: dir.path });
  closers.push(
    () => server.close(),
    () => billing.close(),
  );
  await new Promise<void>((resolve, reject) =>
    server.listen((e) => (e === undefined ? resolve() : reject(e as Error))),
  );
  await billing.connect();
  expect(billing.unwrap<Channel>().name).toBe('billing');
  expect(billing.unwrap<Channel>()).not.toBe(server.unwrap<Channel>());
  expect(billing.id).toBe(1); // alone on its channel
});

test('a closed server binds no one: a client with other options may come after it', async () => {
  const server = new IpcServer({ name: 'agree', dir: dir.path, graceMs: 1000 });
  await server.close();
  const client = new IpcClient({ name: 'agree', dir: dir.path });
  closers.push(() => client.close());
  await client.connect();
  expect(await firstValueFrom(client.emit('x', 1))).toBeUndefined();
});
