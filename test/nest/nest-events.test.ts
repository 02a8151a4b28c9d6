import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import { Channel, IpcClient, NoEventHandlerError, UndeliverableError } from '../../src/index.js';
import { rejection } from '../helpers/thrown.js';
import { until } from '../helpers/wait.js';
import { boot, dir, events } from './in-process-app.js';

/** The warnings IpcClient logs through Nest's Logger during a test. */
let warnings: string[];
let spy: ReturnType<typeof jest.spyOn>;
beforeEach(() => {
  events.length = 0;
  warnings = [];
  spy = jest.spyOn(Logger.prototype, 'warn').mockImplementation(function (this: Logger, m) {
    if ((this as unknown as { context?: string }).context === 'IpcClient') warnings.push(String(m));
  });
});
afterEach(() => spy.mockRestore());

const NOBODY =
  "No peer of channel 'inproc' handles event 'nobody': it went to every peer, and nothing ran for it. Check the pattern, and that the process with its @EventPattern(\"nobody\") handler starts an IpcServer on this channel (same name and dir).";

test('an event no peer handles is logged once per pattern; handled ones are not', async () => {
  const { client } = await boot();
  for (let i = 0; i < 5; i++) await firstValueFrom(client.emit('nobody', i));
  await firstValueFrom(client.to(1).emit('nobody either', 1));
  await firstValueFrom(client.emit('noted', 1));
  await until(() => events.length === 1);
  expect(warnings).toEqual([
    NOBODY,
    NOBODY.replaceAll('nobody', 'nobody either').replace('every peer', 'peer 1'),
  ]);
});

test('with confirmEvents, emit completes once the event was read and errors when nobody handles it or it is undeliverable', async () => {
  const { client } = await boot({ graceMs: 300 }, { confirmEvents: true, graceMs: 300 });
  await firstValueFrom(client.emit('noted', 7));
  expect(events).toEqual(['noted 7 none']); // its handler started before the hub confirmed it
  const unhandled = await rejection<NoEventHandlerError>(firstValueFrom(client.emit('nobody', 1)));
  expect(unhandled).toBeInstanceOf(NoEventHandlerError);
  expect([unhandled.code, unhandled.pattern, unhandled.target]).toEqual([
    'ERR_IPC_NO_EVENT_HANDLER',
    'nobody',
    'all',
  ]);
  expect(unhandled.message).toBe(NOBODY);
  const lost = await rejection<UndeliverableError>(firstValueFrom(client.to(9).emit('noted', 8)));
  expect(lost).toBeInstanceOf(UndeliverableError);
  expect([lost.target, lost.reason]).toEqual([9, 'grace-expired']);
  expect(warnings).toEqual([]); // each failure went to its own emit
});

test('an event sent before the IpcServer of its only handler attached is not reported: the server announces it, then reads it', async () => {
  // A hybrid app's client joins first (an HTTP request used it); startAllMicroservices() attaches
  // the server later, and it reads what waited in its early inbox.
  const early = new IpcClient({ name: 'inproc', dir: dir.path, confirmEvents: true });
  const plain = new IpcClient({ name: 'inproc', dir: dir.path });
  try {
    await early.connect();
    await plain.connect();
    const confirmed = firstValueFrom(early.emit('noted', 41));
    await firstValueFrom(plain.emit('noted', 42));
    await boot();
    await confirmed;
    await until(() => events.length === 2);
    expect([...events].sort()).toEqual(['noted 41 none', 'noted 42 none']);
    expect(warnings).toEqual([]);
  } finally {
    await early.close();
    await plain.close();
  }
});

test('a peer that has announced nothing gets until graceMs to do so; a late announcement settles it at once', async () => {
  const { client } = await boot({ graceMs: 1000 }, { graceMs: 1000 });
  // Without channel options of its own: it shares the server's channel, graceMs included.
  const confirming = new IpcClient({ confirmEvents: true });
  const late = new Channel({ name: 'inproc', dir: dir.path, id: 2 });
  const silent = new Channel({ name: 'inproc', dir: dir.path, id: 3 });
  try {
    await late.connect();
    await silent.connect();
    await until(() => client.peers.length === 3);
    const started = Date.now();
    const settled: string[] = [];
    // Peer 2 will announce a handler; peer 3 never announces anything.
    const toLate = firstValueFrom(confirming.to(2).emit('late', 1)).then(() =>
      settled.push('late'),
    );
    const toSilent = rejection<NoEventHandlerError>(
      firstValueFrom(confirming.to(3).emit('late', 2)),
    ).then((e) => (settled.push('silent'), e));
    await firstValueFrom(client.to(3).emit('late', 3));
    late.setMeta({ nest: { m: [], e: ['late'] } });
    await toLate;
    expect(warnings).toEqual([]);
    const error = await toSilent;
    expect(settled).toEqual(['late', 'silent']);
    expect(error).toBeInstanceOf(NoEventHandlerError);
    expect(error.target).toBe(3);
    // Not before graceMs (less a margin for timer rounding): a lower bound only.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    await until(() => warnings.length === 1);
    expect(warnings[0]).toContain("handles event 'late': it went to peer 3");
  } finally {
    await confirming.close();
    await late.close();
    await silent.close();
  }
});
