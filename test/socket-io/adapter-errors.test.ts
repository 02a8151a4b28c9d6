import { Server } from 'socket.io';
import { ChannelClosedError, FrameTooLargeError, InvalidOptionError } from '../../src/index.js';
import { IpcEmitter, createAdapter } from '../../src/socket-io/index.js';
import { sandbox } from '../helpers/sandbox.js';
import { thrown } from '../helpers/thrown.js';

const box = sandbox({ name: 'sio-errors' });

test('after the channel closed, what the adapter publishes fails as a rejection it handles, never a throw', async () => {
  const channel = box.channel();
  await channel.connect();
  const io = new Server({ adapter: createAdapter(channel) });
  const adapter = io.of('/').adapter as unknown as {
    publishAndReturnOffset(message: { type: number }): Promise<string>;
    close(): void;
  };
  await channel.close();
  // The path of every publish, heartbeats from a timer included: socket.io-adapter catches it.
  await expect(adapter.publishAndReturnOffset({ type: 2 })).rejects.toBeInstanceOf(
    ChannelClosedError,
  );
  // Its goodbye goes the same way, and its timers stop.
  adapter.close();
});

test('an emitter refuses an acknowledgement callback with a typed error that says what to do', async () => {
  const channel = box.channel();
  const emitter = new IpcEmitter(channel);
  const error = thrown(() => emitter.to('r').emit('question', 'x', () => undefined));
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect(error.message).toContain('io.timeout(ms).to(room).emitWithAck(...)');
  expect(channel.pendingBytes).toBe(0);
});

test("a broadcast the channel cannot carry is reported to the channel's 'error' listeners, typed", async () => {
  const channel = box.channel({ maxFrameBytes: 1024 });
  await channel.connect();
  const errors: unknown[] = [];
  channel.on('error', (e) => errors.push(e));
  const io = new Server({ adapter: createAdapter(channel) });
  io.emit('big', 'x'.repeat(4096));
  // socket.io-adapter publishes after a microtask; the report is synchronous within it.
  await new Promise((resolve) => setImmediate(resolve));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toBeInstanceOf(FrameTooLargeError);
  io.of('/').adapter.close();
});

test('an emitter throws what the channel cannot carry, typed, to its caller', async () => {
  const channel = box.channel({ maxFrameBytes: 1024 });
  await channel.connect();
  const errors: unknown[] = [];
  channel.on('error', (e) => errors.push(e));
  const error = thrown(() => new IpcEmitter(channel).emit('big', 'x'.repeat(4096)));
  expect(error).toBeInstanceOf(FrameTooLargeError);
  // Its caller has it: the channel's listeners do not get it a second time.
  expect(errors).toEqual([]);
});
