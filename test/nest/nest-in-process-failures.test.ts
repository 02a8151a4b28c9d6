import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import { type Deserializer, type Serializer } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, take, tap, toArray } from 'rxjs';
import {
  Channel,
  ChannelClosedError,
  EncodeError,
  InvalidMessageError,
  InvalidOptionError,
  InvalidTargetError,
  IpcClient,
} from '../../src/index.js';
import { until } from '../helpers/processes.js';

import { NO_HANDLER, boot, dir, events } from './in-process-app.js';

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
