import { type Server, type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';
import type { BenchPayload } from '../shared/payload.js';
import type { WorkerBoot } from '../shared/protocol.js';
import { Fifo } from './fifo.js';
import { FrameReader, encodeFrame } from './raw-frames.js';
import type { Endpoint, Handlers, Transport } from './types.js';

/**
 * Raw `node:net` over a Unix socket: the physical reference, what a careful hand-rolled
 * protocol gets. JSON bodies; every write of one event-loop tick leaves in one syscall
 * (cork, uncork on nextTick: Node's own idiom), since a write() syscall per message would
 * halve the rate and measure libuv rather than the socket; backpressure from write()'s return
 * value and 'drain'. Broadcast is the listening side writing the same bytes to each socket.
 */
export interface RawOptions {
  /** Listen on the trial's socket and wait for `connections` peers, or connect to it. */
  listen: boolean;
  connections?: number;
  /**
   * For a connecting process: answer requests and count events (the serving side) instead of
   * driving. Only a process that connects through the relay (raw-relay.ts) serves that way.
   */
  serve?: boolean;
}

async function open(boot: WorkerBoot, handlers: Handlers): Promise<Endpoint> {
  const o = boot.spec.options as unknown as RawOptions;
  const path = join(boot.dir, 'raw.sock');
  const sockets: Socket[] = [];
  const waiting = new Fifo<(p: BenchPayload) => void>();
  const respond = boot.spec.traffic === 'rr';
  const write = tickBatched();

  const attach = (socket: Socket, side: 'server' | 'client') => {
    sockets.push(socket);
    const reader = new FrameReader((body) => {
      const p = JSON.parse(body.toString('utf8')) as BenchPayload;
      if (side === 'client' && respond) waiting.shift()(p);
      else if (respond) write(socket, encodeFrame(handlers.request(p)));
      else handlers.event(p);
    });
    socket.on('data', (chunk: Buffer) => reader.push(chunk));
    socket.on('error', (e) => {
      throw e;
    });
  };

  let server: Server | undefined;
  let allConnected: Promise<void>;
  if (o.listen) {
    const expected = o.connections ?? 1;
    let markConnected!: () => void;
    allConnected = new Promise((resolve) => (markConnected = resolve));
    server = createServer((socket) => {
      attach(socket, 'server');
      if (sockets.length === expected) markConnected();
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(path, resolve);
    });
  } else {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', resolve);
    });
    attach(socket, o.serve === true ? 'server' : 'client');
    allConnected = Promise.resolve();
  }

  return {
    info: {},
    sync: () => allConnected,
    request(p) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        write(sockets[0]!, encodeFrame(p));
      });
    },
    emit(p) {
      const frame = encodeFrame(p);
      let ok = true;
      for (let i = 0; i < sockets.length; i++) ok = write(sockets[i]!, frame) && ok;
      return ok;
    },
    async drained() {
      await Promise.all(
        sockets
          .filter((s) => s.writableNeedDrain)
          .map((s) => new Promise((resolve) => s.once('drain', resolve))),
      );
    },
  };
}

/** write() that corks a socket on its first write of a tick and uncorks it on nextTick. */
export function tickBatched(): (socket: Socket, frame: Buffer) => boolean {
  const corked = new Set<Socket>();
  const flush = () => {
    for (const socket of corked) socket.uncork();
    corked.clear();
  };
  return (socket, frame) => {
    if (!corked.has(socket)) {
      if (corked.size === 0) process.nextTick(flush);
      corked.add(socket);
      socket.cork();
    }
    return socket.write(frame);
  };
}

export const rawUdsTransport: Transport = { open };
