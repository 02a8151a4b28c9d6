import { Server } from 'socket.io';
import { ChannelClosedError, InvalidOptionError } from '../../src/index.js';
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
