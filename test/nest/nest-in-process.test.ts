import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { readdirSync } from 'node:fs';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import {
  ClientsModule,
  Ctx,
  EventPattern,
  MessagePattern,
  Payload,
  Transport,
  type Deserializer,
  type Serializer,
} from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Observable, firstValueFrom, lastValueFrom, of, take, tap, toArray } from 'rxjs';
import {
  Channel,
  ChannelClosedError,
  EncodeError,
  IPC_TRANSPORT,
  InvalidMessageError,
  InvalidOptionError,
  InvalidTargetError,
  IpcClient,
  type IpcContext,
  IpcServer,
} from '../../src/index.js';
import { tempDir, until } from '../helpers/processes.js';

const NO_HANDLER = 'There is no matching message handler defined in the remote service.';

@Controller()
class MathController {
  @MessagePattern('sum')
  sum(@Payload() xs: number[]): number {
    return xs.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('count')
  count(@Payload() n: number) {
    return of(...Array.from({ length: n }, (_, i) => i));
  }

  @MessagePattern('ctx')
  ctx(@Payload() _d: unknown, @Ctx() ctx: unknown) {
    const c = ctx as IpcContext;
    return {
      pattern: c.getPattern(),
      sender: c.getSender(),
      metadata: c.getMetadata(),
      store: store.getStore(),
    };
  }

  @EventPattern('noted')
  async noted(@Payload() n: number): Promise<void> {
    events.push(`noted ${n} ${store.getStore()?.trace ?? 'none'}`);
    await Promise.resolve(); // settles after the next events' handlers have started
  }

  @EventPattern('ticks')
  ticks(@Payload() n: number): Observable<number> {
    // A stream from an event handler runs to its end though no one subscribes to it.
    return new Observable<number>((subscriber) => {
      for (let i = 0; i < n; i++) {
        events.push(`tick ${i}`);
        subscriber.next(i);
      }
      subscriber.complete();
    });
  }

  @EventPattern('fails')
  fails(@Payload() _d: unknown): void {
    events.push('fails');
    throw new Error('event handler failed');
  }

  @MessagePattern('bigint')
  bigint(): bigint {
    return 1n; // JSON cannot carry it
  }

  @MessagePattern('then-bigint')
  thenBigint(): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      subscriber.next(1);
      subscriber.next(2n);
      subscriber.next(3);
      subscriber.complete();
    });
  }

  @MessagePattern('shape')
  shape(@Payload() kind: string): unknown {
    const values: Record<string, unknown> = {
      null: null,
      undefined: undefined,
      function: () => 1,
      zero: 0,
      empty: '',
      nested: { a: [1, { b: null }], c: 'é' },
    };
    return values[kind];
  }

  @MessagePattern('echo-packet')
  echoPacket(@Payload() data: unknown, @Ctx() ctx: unknown): unknown {
    return { data, metadata: (ctx as IpcContext).getMetadata() };
  }

  @MessagePattern('never')
  never(): Promise<never> {
    return new Promise<never>(() => {});
  }

  @MessagePattern('tcp-only', Transport.TCP)
  tcpOnly(): string {
    return 'tcp';
  }

  @MessagePattern('ipc-only', IPC_TRANSPORT)
  ipcOnly(): string {
    return 'ipc';
  }
}

const store = new AsyncLocalStorage<{ trace: string }>();
const events: string[] = [];

let dir: ReturnType<typeof tempDir>;
let apps: INestMicroservice[] = [];
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  apps = [];
  dir.remove();
});

async function boot(
  serverOptions: Record<string, unknown> = {},
  clientOptions: Record<string, unknown> = {},
) {
  const options = { name: 'inproc', dir: dir.path };
  @Module({
    imports: [
      ClientsModule.register([
        { name: 'IPC', customClass: IpcClient, options: { ...options, ...clientOptions } },
      ]),
    ],
    controllers: [MathController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const server = new IpcServer({ ...options, ...serverOptions });
  const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
  apps.push(app);
  await app.listen();
  const client = app.get<IpcClient>('IPC');
  if (clientOptions.connect !== false) await client.connect();
  return { app, server, client };
}

test('the IpcServer and IpcClient of one process share one channel and one peer id', async () => {
  const { server, client } = await boot();
  expect(client.id).toBe(1);
  expect(server.id).toBe(1);
  expect(client.unwrap<Channel>()).toBe(server.unwrap<Channel>());
  expect(client.unwrap<Channel>()).toBeInstanceOf(Channel);
  expect(client.peers).toEqual([1]);
  expect(await firstValueFrom(client.send<number>('sum', [1, 2, 3]))).toBe(6);
  expect(await lastValueFrom(client.send('count', 3).pipe(toArray()))).toEqual([0, 1, 2]);
});

test('an injected IpcClient is usable before anything was sent: id, peers and unwrap() join on first use', async () => {
  const { server, client } = await boot({}, { connect: false });
  // The IpcServer of this process has joined: the client shares its channel at once.
  expect(client.id).toBe(1);
  expect(client.peers).toEqual([1]);
  expect(client.unwrap<Channel>()).toBe(server.unwrap<Channel>());

  // A client alone on its channel: unwrap() starts the join and returns the channel now.
  const alone = new IpcClient({ name: 'inproc-alone', dir: dir.path });
  try {
    const channel = alone.unwrap<Channel>();
    expect(channel).toBeInstanceOf(Channel);
    expect(channel).not.toBe(server.unwrap<Channel>());
    expect(alone.id).toBeUndefined();
    await alone.connect();
    expect(alone.id).toBe(1);
    expect(alone.unwrap<Channel>()).toBe(channel);
  } finally {
    await alone.close();
  }
  expect(() => alone.unwrap()).toThrow(ChannelClosedError);
  expect(alone.id).toBeUndefined();
});

test('status observables and on() report the lifecycle; app.close() leaves no socket behind', async () => {
  const { app, server, client } = await boot();
  const serverStatus: string[] = [];
  const clientStatus: string[] = [];
  server.status.subscribe((s) => serverStatus.push(s));
  client.status.subscribe((s) => clientStatus.push(s));
  const events: string[] = [];
  server.on('disconnected', () => events.push('server disconnected'));
  expect(readdirSync(dir.path).some((f) => f.endsWith('.sock'))).toBe(true);
  await app.close();
  apps = [];
  expect(serverStatus).toEqual(['connected', 'disconnected']);
  expect(clientStatus).toEqual(['connected', 'disconnected']);
  expect(events).toEqual(['server disconnected']);
  expect(readdirSync(dir.path)).toEqual([]);
});

test('on() reports peers joining, retiring and leaving', async () => {
  const { server, client } = await boot();
  const seen: string[] = [];
  for (const event of ['join', 'retiring', 'leave'] as const) {
    server.on(event, (peer: number) => seen.push(`server ${event} ${peer}`));
    client.on(event, (peer: number) => seen.push(`client ${event} ${peer}`));
  }
  const other = new Channel({ name: 'inproc', dir: dir.path });
  await other.connect();
  await other.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(seen).toEqual([
    'server join 2',
    'client join 2',
    'server retiring 2',
    'client retiring 2',
    'server leave 2',
    'client leave 2',
  ]);
});

test('in a hybrid-style app, handlers bound to another transport are not served; IPC_TRANSPORT ones are', async () => {
  const { client } = await boot();
  expect(await firstValueFrom(client.send('ipc-only', {}))).toBe('ipc');
  await expect(firstValueFrom(client.to(1).send('tcp-only', {}))).rejects.toBe(NO_HANDLER);
});

test('processing hooks run once per request, with the handler inside the start hook (how @nestjs/observe traces)', async () => {
  const { server, client } = await boot();
  const starts: string[] = [];
  const ends: { pattern: string; store: unknown }[] = [];
  server.setOnProcessingStartHook((transportId, ctx, done) => {
    expect(transportId).toBe(IPC_TRANSPORT);
    starts.push((ctx as IpcContext).getPattern());
    return store.run({ trace: (ctx as IpcContext).getMetadata()['x-request-id'] ?? 'none' }, done);
  });
  server.setOnProcessingEndHook((_t, ctx) => {
    ends.push({ pattern: (ctx as IpcContext).getPattern(), store: store.getStore() });
  });
  client.setOnDispatchHook((packet) => {
    packet.metadata = { 'x-request-id': 'trace-7' };
  });
  const answer = await firstValueFrom(client.send('ctx', {}));
  expect(answer).toEqual({
    pattern: 'ctx',
    sender: 1,
    metadata: { 'x-request-id': 'trace-7' },
    store: { trace: 'trace-7' },
  });
  expect(await lastValueFrom(client.send('count', 4).pipe(toArray()))).toEqual([0, 1, 2, 3]);
  expect(starts).toEqual(['ctx', 'count']);
  expect(ends).toEqual([
    { pattern: 'ctx', store: { trace: 'trace-7' } },
    { pattern: 'count', store: { trace: 'trace-7' } },
  ]);
});

test('processing hooks run once per event too: plain, async, streamed and failing handlers', async () => {
  events.length = 0;
  const { server, client } = await boot();
  const starts: string[] = [];
  const ends: string[] = [];
  server.setOnProcessingStartHook((_t, ctx, done) => {
    const pattern = (ctx as IpcContext).getPattern();
    starts.push(pattern);
    return store.run({ trace: `in ${pattern}` }, done);
  });
  server.setOnProcessingEndHook((_t, ctx) => {
    ends.push((ctx as IpcContext).getPattern());
  });
  await firstValueFrom(client.to(1).emit('noted', 7));
  await firstValueFrom(client.to(1).emit('ticks', 3));
  await firstValueFrom(client.to(1).emit('fails', {}));
  // Events are one-way: wait until the last one's end hook has run.
  for (let i = 0; i < 100 && ends.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
  // Handlers run concurrently, as in Nest's own transports: only each one's own order is fixed.
  expect([...events].sort()).toEqual(['fails', 'noted 7 in noted', 'tick 0', 'tick 1', 'tick 2']);
  expect(events.filter((e) => e.startsWith('tick'))).toEqual(['tick 0', 'tick 1', 'tick 2']);
  expect(starts).toEqual(['noted', 'ticks', 'fails']);
  expect([...ends].sort()).toEqual(['fails', 'noted', 'ticks']);
});

test('answers and events from the default serializer arrive as the whole packet would have: null, empty, nested, metadata', async () => {
  const { client } = await boot();
  const shape = (kind: string) => lastValueFrom(client.send('shape', kind).pipe(toArray()));
  expect(await shape('null')).toEqual([null]);
  // JSON leaves an undefined or function `response` out of a packet: the request completes empty.
  expect(await shape('undefined')).toEqual([]);
  expect(await shape('function')).toEqual([]);
  expect(await shape('zero')).toEqual([0]);
  expect(await shape('empty')).toEqual(['']);
  expect(await shape('nested')).toEqual([{ a: [1, { b: null }], c: 'é' }]);
  client.setOnDispatchHook((packet) => {
    packet.metadata = { trace: 't-1' };
  });
  expect(await firstValueFrom(client.send('echo-packet', [1, 'two']))).toEqual({
    data: [1, 'two'],
    metadata: { trace: 't-1' },
  });
});

test('a sender of an earlier version, which sends whole packets, is served and answered in its own format', async () => {
  events.length = 0;
  await boot();
  const old = new Channel({ name: 'inproc', dir: dir.path });
  try {
    await old.connect();
    const answers: unknown[] = [];
    old.on('@nest/res', (sender: number, id: string, packet: unknown) =>
      answers.push({ sender, id, packet }),
    );
    old.on('@nest/ans', () => answers.push('a short answer it cannot read'));
    old.to(1).emit('@nest/req', 'old.1', { id: 'old.1', pattern: 'sum', data: [1, 2] });
    old.to(1).emit('@nest/evt', { pattern: 'noted', data: 5 }, 0);
    await until(() => answers.length === 1 && events.length === 1, 2000);
    expect(answers).toEqual([
      { sender: 1, id: 'old.1', packet: { id: 'old.1', response: 3, isDisposed: true } },
    ]);
    expect(events).toEqual(['noted 5 none']);
  } finally {
    await old.close();
  }
});

test('a server deserializer sees the packet a default client serializer made, metadata included', async () => {
  const seen: unknown[] = [];
  const deserializer: Deserializer = {
    deserialize: (raw: unknown) => {
      seen.push(raw);
      return raw as never;
    },
  };
  const { client } = await boot({ deserializer });
  client.setOnDispatchHook((packet) => {
    if (packet.pattern === 'sum') packet.metadata = { k: 'v' };
  });
  expect(await firstValueFrom(client.send<number>('sum', [2, 3]))).toBe(5);
  expect(await firstValueFrom(client.to(1).emit('noted', 9))).toBeUndefined();
  await until(() => seen.length === 2, 2000);
  expect(seen).toEqual([
    { id: expect.any(String), pattern: 'sum', data: [2, 3], metadata: { k: 'v' } },
    { pattern: 'noted', data: 9 },
  ]);
});

test('with no processing hooks, a throwing event handler neither stops later events nor stays counted as running', async () => {
  events.length = 0;
  const { server, client } = await boot();
  const running = () => (server as unknown as { activeEvents: number }).activeEvents;
  await firstValueFrom(client.to(1).emit('fails', {}));
  await firstValueFrom(client.to(1).emit('noted', 1));
  await firstValueFrom(client.to(1).emit('ticks', 2));
  await until(() => events.length === 4 && running() === 0, 2000);
  expect(events).toEqual(['fails', 'noted 1 none', 'tick 0', 'tick 1']);
});

test('custom serializers and deserializers, async ones included, are applied on both sides and keep order', async () => {
  const calls: string[] = [];
  const delay = <T>(v: T, ms: number) => new Promise<T>((r) => setTimeout(() => r(v), ms));
  const serverSerializer: Serializer = {
    serialize: (packet) => {
      calls.push('server.serialize');
      return delay({ box: packet }, packet.response === 0 ? 30 : 1); // the first reply is the slowest
    },
  };
  const serverDeserializer: Deserializer = {
    deserialize: (raw: { box: unknown }) => {
      calls.push('server.deserialize');
      return raw.box;
    },
  };
  const clientSerializer: Serializer = {
    serialize: (packet) => {
      calls.push('client.serialize');
      return delay({ box: packet }, 5);
    },
  };
  const clientDeserializer: Deserializer = {
    deserialize: (raw: { box: unknown }) => {
      calls.push('client.deserialize');
      return delay(raw.box, 1);
    },
  };
  const { client } = await boot(
    { serializer: serverSerializer, deserializer: serverDeserializer },
    { serializer: clientSerializer, deserializer: clientDeserializer },
  );
  expect(await lastValueFrom(client.send('count', 5).pipe(toArray()))).toEqual([0, 1, 2, 3, 4]);
  expect(new Set(calls)).toEqual(
    new Set(['client.serialize', 'server.deserialize', 'server.serialize', 'client.deserialize']),
  );
});

test('bad input gets typed errors through the observable', async () => {
  const { client } = await boot();
  await expect(firstValueFrom(client.send('sum', null))).rejects.toBeInstanceOf(
    InvalidMessageError,
  );
  await expect(firstValueFrom(client.emit('x', undefined))).rejects.toBeInstanceOf(
    InvalidMessageError,
  );
  expect(() => client.to('everyone' as never)).not.toThrow(); // validated when used
  await expect(firstValueFrom(client.to('everyone' as never).emit('x', 1))).rejects.toBeInstanceOf(
    InvalidTargetError,
  );
  await expect(firstValueFrom(client.emit('x', { n: 10n }))).rejects.toBeInstanceOf(EncodeError);
  // emit completes once accepted, with one undefined value like Nest's TCP client.
  expect(await lastValueFrom(client.emit('nobody-listens', 1).pipe(take(1)))).toBeUndefined();
  // Options the channel cannot work with fail the first use with the channel's own error.
  const misconfigured = new IpcClient({ name: '', dir: dir.path });
  await expect(firstValueFrom(misconfigured.emit('x', 1))).rejects.toBeInstanceOf(
    InvalidOptionError,
  );
  await expect(firstValueFrom(misconfigured.send('sum', [1]))).rejects.toBeInstanceOf(
    InvalidOptionError,
  );
  expect(() => misconfigured.unwrap()).toThrow(InvalidOptionError);
  // The request timeout is checked like the channel's own time limits.
  expect(() => new IpcClient({ timeout: '5000' as never })).toThrow(
    new InvalidOptionError(`Option 'timeout' must be a positive number, got "5000" (a string).`),
  );
  expect(() => new IpcClient({ timeout: 3e9 })).toThrow(
    new InvalidOptionError(
      `Option 'timeout' must be at most 2147483647 ms (about 24.8 days), the longest a Node timer can wait; got 3000000000.`,
    ),
  );
});

test('a process with a client and no server: requests to it are answered like an unknown pattern once graceMs passes', async () => {
  const client = new IpcClient({ name: 'inproc', dir: dir.path, graceMs: 300 });
  await client.connect();
  expect(client.id).toBe(1);
  await expect(firstValueFrom(client.send('sum', [1]))).rejects.toMatchObject({
    code: 'ERR_IPC_NO_HANDLER_PEER',
  });
  // Requests to this process wait for an IpcServer (one may attach soon, as in a hybrid app
  // that uses its client before startAllMicroservices()); none does, so: no handler.
  const started = Date.now();
  await expect(firstValueFrom(client.to(1).send('sum', [1]))).rejects.toBe(NO_HANDLER);
  expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  await client.close();
  expect(readdirSync(dir.path)).toEqual([]);
});

test('an answer that cannot be sent fails the request with the reason; a stream ends there', async () => {
  const { client } = await boot();
  const why = /^The handler's answer could not be sent: The 'json' codec cannot encode this value/;
  await expect(firstValueFrom(client.send('bigint', 1))).rejects.toEqual({
    status: 'error',
    message: expect.stringMatching(why),
  });
  const values: unknown[] = [];
  const failed = await lastValueFrom(
    client.send('then-bigint', 1).pipe(tap((v) => values.push(v))),
  ).catch((e: unknown) => e);
  expect(values).toEqual([1]);
  expect(failed).toEqual({ status: 'error', message: expect.stringMatching(why) });
});

test('closing an IpcClient fails its requests in flight with ChannelClosedError', async () => {
  const { server } = await boot();
  const client = new IpcClient({ name: 'inproc', dir: dir.path });
  await client.connect();
  const pending = firstValueFrom(client.send('never', 1)).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 50));
  await client.close();
  const err = await pending;
  expect(err).toBeInstanceOf(ChannelClosedError);
  expect((err as Error).message).toBe(
    'Cannot receive the answer: this IpcClient was closed while the request was in flight.',
  );
  expect(server.unwrap<Channel>().connected).toBe(true); // the server's share of the channel stays
  // The handler was told to stop: the server has nothing left to wait for.
  await until(() => (server as unknown as { inflight: Map<string, unknown> }).inflight.size === 0);
});

test('a request still in an async serializer when its client closes fails with ChannelClosedError, and is not sent', async () => {
  const { server } = await boot();
  const slowSerializer: Serializer = {
    serialize: (packet) => new Promise((resolve) => setTimeout(() => resolve(packet), 100)),
  };
  const client = new IpcClient({ name: 'inproc', dir: dir.path, serializer: slowSerializer });
  await client.connect();
  const pending = firstValueFrom(client.send('never', 1)).catch((e: unknown) => e);
  await client.close();
  expect(await pending).toBeInstanceOf(ChannelClosedError);
  await new Promise((r) => setTimeout(r, 200));
  expect((server as unknown as { inflight: Map<string, unknown> }).inflight.size).toBe(0);
});

test('a closed IpcClient refuses to send instead of quietly reopening; connect() opens it again', async () => {
  const { client } = await boot();
  await client.close();
  const emitted = await firstValueFrom(client.emit('x', 1)).catch((e: unknown) => e);
  expect(emitted).toBeInstanceOf(ChannelClosedError);
  expect((emitted as Error).message).toContain('Call connect()');
  await expect(firstValueFrom(client.send('sum', [1]))).rejects.toBeInstanceOf(ChannelClosedError);
  await client.connect();
  expect(await firstValueFrom(client.send<number>('sum', [1, 2]))).toBe(3);
});
