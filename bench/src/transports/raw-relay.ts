import { type Socket, createServer } from 'node:net';
import { join } from 'node:path';
import type { WorkerBoot } from '../shared/protocol.js';
import { tickBatched } from './raw-uds.js';
import { type Endpoint, type Transport, notAClient } from './types.js';

/**
 * The floor for anything relayed through a third process: raw `node:net` (raw-uds.ts's framing
 * and batching) with a process in the middle that forwards bytes and nothing else. It never
 * parses a frame, routes, acks or keeps a copy, so no hub can relay faster on this machine; a
 * relayed row is read against this one. The receivers connect first, then the driver; the
 * driver's bytes go to every receiver, a receiver's bytes to the driver (with one receiver, so
 * two byte streams never interleave).
 */
export interface RelayOptions {
  /** Receivers that connect before the driver. */
  receivers: number;
}

async function open(boot: WorkerBoot): Promise<Endpoint> {
  const o = boot.spec.options as unknown as RelayOptions;
  const write = tickBatched();
  const receivers: Socket[] = [];
  let driver: Socket | undefined;
  let markConnected!: () => void;
  const allConnected = new Promise<void>((resolve) => (markConnected = resolve));

  const server = createServer((socket) => {
    socket.on('error', (e) => {
      throw e;
    });
    if (receivers.length < o.receivers) {
      receivers.push(socket);
      socket.on('data', (chunk: Buffer) => {
        if (driver !== undefined) write(driver, chunk);
      });
      return;
    }
    driver = socket;
    socket.on('data', (chunk: Buffer) => {
      let ok = true;
      for (const r of receivers) ok = write(r, chunk) && ok;
      // Backpressure passes through: the driver waits while a receiver is behind.
      if (!ok) {
        socket.pause();
        const slow = receivers.filter((r) => r.writableNeedDrain);
        void Promise.all(slow.map((r) => new Promise((res) => r.once('drain', res)))).then(() =>
          socket.resume(),
        );
      }
    });
    markConnected();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(join(boot.dir, 'raw.sock'), resolve);
  });

  return {
    info: {},
    sync: () => allConnected,
    request: () => notAClient('send requests'),
    emit: () => notAClient('emit'),
    drained: () => Promise.resolve(),
  };
}

export const rawRelayTransport: Transport = { open };
