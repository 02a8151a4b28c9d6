import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import { type Deserializer } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import {
  Channel,
  ChannelClosedError,
  IPC_TRANSPORT,
  IpcClient,
  type IpcContext,
} from '../../src/index.js';
import { until } from '../helpers/processes.js';

import { NO_HANDLER, apps, boot, dir, events, store } from './in-process-app.js';

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
  apps.length = 0;
  expect(serverStatus).toEqual(['connected', 'disconnected']);
  expect(clientStatus).toEqual(['connected', 'disconnected']);
  expect(events).toEqual(['server disconnected']);
  expect(readdirSync(dir.path)).toEqual([]);
});

test('on() reports peers joining, retiring and leaving', async () => {
  const { server, client } = await boot();
  const seen: string[] = [];
  for (const event of ['join', 'retiring', 'leave'] as const) {
    server.on(event, (peer: number | string) => seen.push(`server ${event} ${peer}`));
    client.on(event, (peer: number | string) => seen.push(`client ${event} ${peer}`));
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
  // A message to this same process gets a trace id of its own, derived from the sender's.
  expect(answer).toEqual({
    pattern: 'ctx',
    sender: 1,
    metadata: { 'x-request-id': 'trace-7.1' },
    store: { trace: 'trace-7.1' },
  });
  expect(await lastValueFrom(client.send('count', 4).pipe(toArray()))).toEqual([0, 1, 2, 3]);
  expect(starts).toEqual(['ctx', 'count']);
  expect(ends).toEqual([
    { pattern: 'ctx', store: { trace: 'trace-7.1' } },
    { pattern: 'count', store: { trace: 'trace-7.2' } },
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
