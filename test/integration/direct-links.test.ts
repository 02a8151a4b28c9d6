import { connect } from 'node:net';
import { readdirSync } from 'node:fs';
import { FrameDecoder } from '../../src/channel/frame-decoder.js';
import {
  FrameType,
  HEADER_SIZE,
  OFF_TYPE,
  PROTOCOL_VERSION,
  jsonFrame,
  readJson,
  writeHeader,
} from '../../src/channel/frame.js';
import type { PeerRecord } from '../../src/channel/hub-connection.js';
import { Proc, killAll, startMany, tempDir, until } from '../helpers/processes.js';
import { RawPeer } from '../helpers/raw-peer.js';

interface State {
  id: number;
  isHub: boolean;
  connected: boolean;
  hubId: number;
  peers: number[];
  directPeers: number[];
}
interface Received {
  numbers: Record<string, number[]>;
  errors: { code: string; reason?: string }[];
}

const TRANSPORT = process.env.NESTJS_IPC_TRANSPORT ?? 'auto';
const direct = process.platform === 'linux' && TRANSPORT !== 'tcp';
const maybe = direct ? test : test.skip;

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await killAll();
  dir.remove();
});

const env = (extra: Record<string, unknown> = {}) => ({
  PEER_OPTIONS: JSON.stringify({ name: 'direct', dir: dir.path, graceMs: 10_000, ...extra }),
});
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const from2 = async (p: Proc) => (await p.call<Received>('received')).numbers['2'] ?? [];

/** Peers 1 (the hub), 2 (a sender) and 3 (a receiver), joined in that order. */
async function three(extra: Record<string, unknown> = {}): Promise<[Proc, Proc, Proc]> {
  const procs = (await startMany(3, 'peer.js', (i) => env({ id: i + 1, ...extra }))) as [
    Proc,
    Proc,
    Proc,
  ];
  for (const p of procs) await p.call('connect');
  await until(
    async () =>
      (await Promise.all(procs.map((p) => p.call<State>('state')))).every(
        (s) => s.peers.length === 3,
      ),
    10_000,
    'three peers',
  );
  return procs;
}

maybe(
  'two non-hub peers talk over a direct link; unicasts and broadcasts interleaved arrive exactly once, in order',
  async () => {
    const [hub, sender, receiver] = await three();
    await sender.call('mixed', { to: 3, count: 20_000, broadcastEvery: 7 });
    await until(async () => (await from2(receiver)).length === 20_000, 15_000, 'all 20k');
    expect(await from2(receiver)).toEqual(range(0, 20_000));
    // The hub's process got the broadcasts only, in order.
    await until(async () => (await from2(hub)).length === Math.floor(20_000 / 7), 10_000);
    expect(await from2(hub)).toEqual(range(0, 20_000).filter((i) => i % 7 === 6));
    expect((await sender.call<State>('state')).directPeers).toEqual([3]);
    expect((await sender.call<Received>('received')).errors).toEqual([]);
    // Abstract sockets have no files: the directory holds the hub's files only, none per peer.
    const files = readdirSync(dir.path);
    expect(files.every((f) => f.startsWith('direct-'))).toBe(true);
    expect(files.length).toBeLessThanOrEqual(2);
  },
);

maybe('with directLinks: false everything goes through the hub, as before', async () => {
  const [, sender, receiver] = await three({ directLinks: false });
  await sender.call('mixed', { to: 3, count: 2000, broadcastEvery: 5 });
  await until(async () => (await from2(receiver)).length === 2000, 10_000);
  expect(await from2(receiver)).toEqual(range(0, 2000));
  expect((await sender.call<State>('state')).directPeers).toEqual([]);
});

maybe(
  'kill -9 of the hub while two peers stream over their direct link: the stream goes on, exactly once, in order',
  async () => {
    const [hub, sender, receiver] = await three();
    await sender.call('stream', { to: 3, count: 10 });
    await until(async () => (await sender.call<State>('state')).directPeers.includes(3), 5000);
    const streaming = sender.call('stream', { to: 3, count: 30_000, from: 10, paceEvery: 20 });
    await until(async () => (await from2(receiver)).length > 3000, 10_000);
    await hub.kill('SIGKILL');
    await streaming;
    await until(async () => (await from2(receiver)).length === 30_010, 20_000, 'all of it');
    expect(await from2(receiver)).toEqual(range(0, 30_010));
    expect((await sender.call<Received>('received')).errors).toEqual([]);
    const after = await sender.call<State>('state');
    expect(after.isHub || (await receiver.call<State>('state')).isHub).toBe(true);
  },
);

maybe(
  "kill -9 of the receiver mid-stream: what its link had not confirmed goes through the hub to the id's next process, with no gap",
  async () => {
    const [, sender, receiver] = await three();
    const streaming = sender.call('stream', { to: 3, count: 20_000, paceEvery: 20 });
    await until(async () => (await from2(receiver)).length > 3000, 10_000);
    expect((await sender.call<State>('state')).directPeers).toEqual([3]);
    await receiver.kill('SIGKILL');
    const next = await Proc.start('peer.js', env({ id: 3 }));
    expect((await next.call<State>('connect')).id).toBe(3);
    await streaming;
    await until(
      async () => (await from2(next)).at(-1) === 19_999,
      20_000,
      "the stream's end at the next process",
    );
    const got = await from2(next);
    // Whatever the killed process may have read unconfirmed comes again; nothing is missing.
    expect(got[0]).toBeGreaterThan(3000);
    expect(got).toEqual(range(got[0]!, 20_000 - got[0]!));
    expect((await sender.call<Received>('received')).errors).toEqual([]);
  },
);

maybe(
  'a graceful close of the receiver mid-stream: it and the next holder of its id together get every message exactly once',
  async () => {
    const [, sender, old] = await three();
    const streaming = sender.call('stream', { to: 3, count: 20_000, paceEvery: 20 });
    await until(async () => (await from2(old)).length > 3000, 10_000);
    expect((await sender.call<State>('state')).directPeers).toEqual([3]);
    await old.call('drain');
    const before = await from2(old);
    await old.call('close');
    const next = await Proc.start('peer.js', env({ id: 3 }));
    await next.call('connect');
    await streaming;
    await until(async () => (await from2(next)).length === 20_000 - before.length, 20_000);
    expect(before).toEqual(range(0, before.length));
    expect(await from2(next)).toEqual(range(before.length, 20_000 - before.length));
    expect((await sender.call<Received>('received')).errors).toEqual([]);
    // The next process gets a direct link of its own once the hub has delivered what it held.
    await sender.call('stream', { to: 3, count: 10, from: 20_000 });
    await until(async () => (await sender.call<State>('state')).directPeers.includes(3), 5000);
  },
);

maybe(
  "a connection that cannot prove the receiver's token is closed, and nothing it sent is delivered",
  async () => {
    const [, sender, receiver] = await three();
    // A member learns where peer 3 listens; what it does not have is a valid proof.
    const raw = await RawPeer.open('direct', dir.path);
    await raw.hello();
    raw.socket.write(
      jsonFrame(FrameType.Join, {
        protocol: PROTOCOL_VERSION,
        name: 'direct',
        codec: 'json',
        incarnation: 77,
        pid: process.pid,
        claim: 0,
        kind: 'none',
        meta: null,
        nonce: 'n',
      }),
    );
    await until(() => raw.ofType(FrameType.Welcome), 5000, 'Welcome');
    const { peers } = readJson<{ peers: PeerRecord[] }>(raw.ofType(FrameType.Welcome)!);
    const path = peers.find((p) => p.id === 3)!.direct!.path;

    const attempt = async (frames: Buffer[]) => {
      const socket = connect({ path });
      const got: Buffer[] = [];
      const decoder = new FrameDecoder(1 << 20);
      socket.on('data', (c: Buffer) => got.push(...decoder.push(c)));
      socket.on('error', () => {});
      await new Promise<void>((r) => socket.once('connect', () => r()));
      for (const f of frames) socket.write(f);
      await new Promise<void>((r) => socket.once('close', () => r()));
      return got.map((f) => f[OFF_TYPE]);
    };
    const event = Buffer.concat([Buffer.from('n'), Buffer.from('[123456]')]);
    const data = Buffer.alloc(HEADER_SIZE + event.length);
    writeHeader(data, FrameType.Event, 0, 3, 1, 77, 1);
    event.copy(data, HEADER_SIZE);
    const wrongProof = jsonFrame(FrameType.DirectJoin, {
      id: 2,
      incarnation: 77,
      nonce: 'x',
      proof: 'f'.repeat(64),
    });
    // Data with no handshake, and a join with a wrong proof: only the hello comes back.
    expect(await attempt([data])).toEqual([FrameType.DirectHello]);
    expect(await attempt([wrongProof, data])).toEqual([FrameType.DirectHello]);
    await raw.close();

    await sender.call('stream', { to: 3, count: 100 });
    await until(async () => (await from2(receiver)).length === 100, 5000);
    expect(await from2(receiver)).toEqual(range(0, 100));
    expect(Object.keys((await receiver.call<Received>('received')).numbers)).toEqual(['2']);
  },
);
