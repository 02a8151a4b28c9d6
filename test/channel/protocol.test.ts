/**
 * The peer side of the protocol against a scripted hub: a raw server on the channel's socket
 * that sends exact byte sequences and checks exactly what the peer answers.
 */
import type { Socket } from 'node:net';
import type { Channel } from '../../src/index.js';
import { type HubListener, resolveEndpoint } from '../../src/channel/endpoint/endpoint.js';
import { FrameDecoder } from '../../src/channel/wire/frame-decoder.js';
import {
  FrameType,
  HEADER_SIZE,
  OFF_TYPE,
  PROTOCOL_VERSION,
  jsonFrame,
  readCount,
  readJson,
  writeHeader,
} from '../../src/channel/wire/frame.js';
import { TRANSPORT } from '../helpers/endpoint.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const box = sandbox({ name: 'proto', closeTimeoutMs: 200 });
let server: HubListener | undefined;
let channel: Channel | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/**
 * Starts a scripted hub on the channel's endpoint (listening and published the way a real hub
 * is, so under tcp the peer proves the token first); returns the frames the peer sends.
 */
async function scriptedHub(script: (socket: Socket, join: Record<string, unknown>) => void) {
  channel = box.channel();
  const received: Buffer[] = [];
  const hosted = await resolveEndpoint('proto', { dir: box.dir, transport: TRANSPORT }).host(false);
  server = hosted!.server;
  server.on('connection', (socket) => {
    const decoder = new FrameDecoder(1 << 20);
    socket.on('data', (chunk) => {
      for (const frame of decoder.push(chunk)) {
        received.push(frame);
        if (frame[OFF_TYPE] === FrameType.Join) script(socket, readJson(frame));
      }
    });
    socket.write(
      jsonFrame(FrameType.HubHello, {
        protocol: PROTOCOL_VERSION,
        name: 'proto',
        codec: 'json',
        nonce: 'n',
        secured: false,
        maxFrameBytes: 1 << 20,
      }),
    );
  });
  return received;
}

function event(seq: number, name: string, args: unknown[]): Buffer {
  const payload = Buffer.from(JSON.stringify(args));
  const frame = Buffer.alloc(HEADER_SIZE + name.length + payload.length);
  writeHeader(frame, FrameType.Event, 0, 1, name.length, 77, seq);
  frame.writeUInt16LE(9, 8); // sender id 9
  frame.write(name, HEADER_SIZE);
  payload.copy(frame, HEADER_SIZE + name.length);
  return frame;
}

test('data frames and a Handover in one read: the receipt sent before HandoverDone covers them all', async () => {
  const received = await scriptedHub((socket) => {
    socket.write(
      jsonFrame(FrameType.Welcome, {
        id: 1,
        hubId: 9,
        hubPid: process.pid,
        peers: [{ id: 1, incarnation: 1, pid: process.pid, meta: null }],
      }),
    );
    // One write: three events, then the Handover.
    socket.write(
      Buffer.concat([
        event(1, 'x', [1]),
        event(2, 'x', [2]),
        event(3, 'x', [3]),
        jsonFrame(FrameType.Handover, { successor: 0 }),
      ]),
    );
  });
  const got: number[] = [];
  channel!.on('x', (_sender, n: number) => got.push(n));
  await channel!.connect();
  await until(
    () => received.some((f) => f[OFF_TYPE] === FrameType.HandoverDone),
    undefined,
    'HandoverDone',
  );
  const types = received.map((f) => f[OFF_TYPE]);
  const done = types.indexOf(FrameType.HandoverDone);
  const lastReceipt = received
    .slice(0, done)
    .filter((f) => f[OFF_TYPE] === FrameType.Receipt)
    .at(-1);
  expect(lastReceipt).toBeDefined();
  expect(readCount(lastReceipt!)).toBe(3);
  expect(got).toEqual([1, 2, 3]);
});
