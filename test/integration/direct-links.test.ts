import { createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:net';
import { readdirSync } from 'node:fs';
import { FrameDecoder } from '../../src/channel/wire/frame-decoder.js';
import {
  FrameType,
  HEADER_SIZE,
  OFF_TYPE,
  jsonFrame,
  readJson,
  writeHeader,
} from '../../src/channel/wire/frame.js';
import { type PeerRecord, directProof } from '../../src/channel/wire/handshake.js';
import { TRANSPORT } from '../helpers/endpoint.js';
import {
  type PeerState,
  barrier,
  countFrom,
  expectNumbers,
  numbersFrom,
  received,
  settled,
} from '../helpers/peer-fixture.js';
import { Proc, startMany } from '../helpers/processes.js';
import { range } from '../helpers/range.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/wait.js';

const direct = process.platform === 'linux' && TRANSPORT !== 'tcp';
const maybe = direct ? test : test.skip;

const box = sandbox({ name: 'direct', graceMs: 10_000 });
const from2 = (p: Proc) => numbersFrom(p, 2);
const directPeers = async (p: Proc) => (await p.call<PeerState>('state')).directPeers;

/** Peers 1 (the hub), 2 (a sender) and 3 (a receiver), joined in that order. */
async function three(extra: Record<string, unknown> = {}): Promise<[Proc, Proc, Proc]> {
  const procs = (await startMany(3, 'peer.js', (i) => box.peerEnv({ id: i + 1, ...extra }))) as [
    Proc,
    Proc,
    Proc,
  ];
  for (const p of procs) await p.call('connect');
  await settled(procs);
  return procs;
}

/**
 * Closes `old` (peer 3, which stopped reading after the first `read` of peer 2's 20k stream)
 * and checks that it got exactly those, starts the next process for id 3, and checks that it
 * gets exactly the rest, in order, and the sender no error.
 */
async function successorGetsTheRest(
  sender: Proc,
  old: Proc,
  read: number,
  streaming: Promise<unknown>,
): Promise<Proc> {
  await old.call('close');
  expect(await from2(old)).toEqual(range(0, read));
  const next = await Proc.start('peer.js', box.peerEnv({ id: 3 }));
  await next.call('connect');
  await streaming;
  await expectNumbers(next, 2, range(read, 20_000 - read));
  expect((await received(sender)).errors).toEqual([]);
  return next;
}

maybe(
  'two non-hub peers talk over a direct link; unicasts and broadcasts interleaved arrive exactly once, in order',
  async () => {
    const [hub, sender, receiver] = await three();
    await sender.call('mixed', { to: 3, count: 20_000, broadcastEvery: 7 });
    await expectNumbers(receiver, 2, range(0, 20_000));
    // The hub's process got the broadcasts only, in order.
    await expectNumbers(
      hub,
      2,
      range(0, 20_000).filter((i) => i % 7 === 6),
    );
    expect(await directPeers(sender)).toEqual([3]);
    expect((await received(sender)).errors).toEqual([]);
    // Abstract sockets have no files: the directory holds the hub's files only, none per peer.
    const files = readdirSync(box.dir);
    expect(files.every((f) => f.startsWith('direct-'))).toBe(true);
    expect(files.length).toBeLessThanOrEqual(2);
  },
);

maybe('with directLinks: false everything goes through the hub', async () => {
  const [, sender, receiver] = await three({ directLinks: false });
  await sender.call('mixed', { to: 3, count: 2000, broadcastEvery: 5 });
  await expectNumbers(receiver, 2, range(0, 2000));
  expect(await directPeers(sender)).toEqual([]);
});

maybe(
  'kill -9 of the hub while two peers stream over their direct link: the stream goes on, exactly once, in order',
  async () => {
    const [hub, sender, receiver] = await three();
    await sender.call('stream', { to: 3, count: 10 });
    await until(async () => (await directPeers(sender)).includes(3));
    const streaming = sender.call('stream', { to: 3, count: 30_000, from: 10, paceEvery: 20 });
    await until(async () => (await countFrom(receiver, 2)) > 3000);
    await hub.kill('SIGKILL');
    await streaming;
    await expectNumbers(receiver, 2, range(0, 30_010));
    await barrier(sender, 3, receiver);
    expect(await countFrom(receiver, 2)).toBe(30_010);
    expect((await received(sender)).errors).toEqual([]);
    const after = await sender.call<PeerState>('state');
    expect(after.isHub || (await receiver.call<PeerState>('state')).isHub).toBe(true);
  },
);

maybe(
  "kill -9 of the receiver mid-stream: what its link had not confirmed goes through the hub to the id's next process, with no gap",
  async () => {
    const [, sender, receiver] = await three();
    const streaming = sender.call('stream', { to: 3, count: 20_000, paceEvery: 20 });
    await until(async () => (await countFrom(receiver, 2)) > 3000);
    // A process confirms what it read by the end of that turn of its event loop: by the time the
    // receiver answers again, it has confirmed the more than 3000 it said it had read.
    await countFrom(receiver, 2);
    expect(await directPeers(sender)).toEqual([3]);
    await receiver.kill('SIGKILL');
    const next = await Proc.start('peer.js', box.peerEnv({ id: 3 }));
    expect((await next.call<PeerState>('connect')).id).toBe(3);
    await streaming;
    await until(
      async () => (await from2(next)).at(-1) === 19_999,
      undefined,
      "the stream's end at the next process",
    );
    const got = await from2(next);
    // Whatever the killed process may have read unconfirmed comes again; nothing is missing.
    expect(got[0]).toBeGreaterThan(3000);
    expect(got).toEqual(range(got[0]!, 20_000 - got[0]!));
    expect((await received(sender)).errors).toEqual([]);
  },
);

maybe(
  'a graceful close of the receiver mid-stream: it and the next holder of its id together get every message exactly once',
  async () => {
    const [, sender, old] = await three();
    const streaming = sender.call('stream', { to: 3, count: 20_000, paceEvery: 20 });
    await until(async () => (await countFrom(old, 2)) > 3000);
    expect(await directPeers(sender)).toEqual([3]);
    await old.call('retire');
    await successorGetsTheRest(sender, old, await countFrom(old, 2), streaming);
    // The next process gets a direct link of its own once the hub has delivered what it held.
    await sender.call('stream', { to: 3, count: 10, from: 20_000 });
    await until(async () => (await directPeers(sender)).includes(3));
  },
);

maybe(
  'a receiver that retires while no hub is joined stops reading its links at once; its successor gets the rest, exactly once',
  async () => {
    const [hub, sender, old] = await three();
    const streaming = sender.call('stream', { to: 3, count: 20_000, paceEvery: 20 });
    await until(async () => (await countFrom(old, 2)) > 3000);
    expect(await directPeers(sender)).toEqual([3]);
    await old.call('retireOnDisconnect');
    const joins = old.events.filter((e) => e.ev === 'connect').length;
    await hub.kill('SIGKILL');
    const called = await old.waitEvent((e) => e.ev === 'retireCalled');
    const atRetire = (called.counts as Record<string, number>)['2']!;
    // It rejoins the next hub, still retiring; closed before that, it could not tell that hub it
    // left, and its id would stay reserved for it while its process lives.
    await until(() => old.events.filter((e) => e.ev === 'connect').length > joins);
    // Nothing more is read from the moment retire() was called until the process closes,
    // though the sender keeps sending.
    await successorGetsTheRest(sender, old, atRetire, streaming);
  },
);

maybe(
  'a receiver the hub took for gone (its hub connection broke) rejoins and gets a new link; nothing is lost or doubled',
  async () => {
    const [, sender, receiver] = await three();
    const streaming = sender.call('stream', { to: 3, count: 20_000, paceEvery: 20 });
    await until(async () => (await countFrom(receiver, 2)) > 3000);
    expect(await directPeers(sender)).toEqual([3]);
    await receiver.call('dropHubConnection');
    await sender.waitEvent((e) => e.ev === 'leave' && e.id === 3);
    await streaming;
    await expectNumbers(receiver, 2, range(0, 20_000));
    await barrier(sender, 3, receiver);
    expect(await countFrom(receiver, 2)).toBe(20_000);
    expect((await received(sender)).errors).toEqual([]);
    // The same process is back as a member: the next message opens a link to it again.
    await sender.call('stream', { to: 3, count: 10, from: 20_000 });
    await until(async () => (await directPeers(sender)).includes(3));
  },
);

maybe(
  'a link opens only for the member it claims to be: strangers, oversized frames and a member posing as another are cut off',
  async () => {
    const [, sender, receiver] = await three();
    // A raw member of the channel, with a key pair of its own, as every peer has.
    const keys = generateKeyPairSync('x25519');
    const raw = await RawPeer.open('direct', box.dir);
    await raw.hello();
    raw.join({
      incarnation: 77,
      direct: {
        path: '\0unused',
        key: keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      },
    });
    const welcome = await raw.welcome();
    const target = welcome.peers.find((p) => p.id === 3)!;
    const posedAs = welcome.peers.find((p) => p.id === 2)!;
    const secret = diffieHellman({
      privateKey: keys.privateKey,
      publicKey: createPublicKey({
        key: Buffer.from(target.direct!.key, 'base64'),
        format: 'der',
        type: 'spki',
      }),
    });

    /** Connects to peer 3's link address; `write` gets its hello's nonce; resolves on close. */
    const attempt = async (write: (nonce: string) => Buffer[]) => {
      const socket = connect({ path: target.direct!.path });
      const got: Buffer[] = [];
      const decoder = new FrameDecoder(1 << 20);
      socket.on('error', () => {});
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      socket.on('data', (c: Buffer) => {
        for (const f of decoder.push(c)) {
          got.push(f);
          if (f[OFF_TYPE] === FrameType.DirectHello) {
            for (const out of write(readJson<{ nonce: string }>(f).nonce)) socket.write(out);
          }
          if (f[OFF_TYPE] === FrameType.DirectWelcome) socket.end();
        }
      });
      await closed;
      return got.map((f) => f[OFF_TYPE]);
    };
    const event = Buffer.concat([Buffer.from('n'), Buffer.from('[123456]')]);
    const data = (incarnation: number) => {
      const f = Buffer.alloc(HEADER_SIZE + event.length);
      writeHeader(f, FrameType.Event, 0, 3, 1, incarnation, 1e12);
      event.copy(f, HEADER_SIZE);
      return f;
    };
    const join = (as: PeerRecord | { id: number; incarnation: number }, nonce: string) =>
      jsonFrame(FrameType.DirectJoin, {
        id: as.id,
        incarnation: as.incarnation,
        nonce: 'x',
        proof: directProof(secret, 'join', nonce, [as.id, as.incarnation], [3, target.incarnation]),
      });
    const huge = Buffer.alloc(8);
    huge.writeUInt32LE(1 << 20, 0);

    // Data with no handshake, a frame header announcing 1 MiB before any proof, and the member
    // claiming to be peer 2 (its proof is under its own secret with peer 3, not peer 2's): each
    // gets the hello and a closed connection.
    expect(await attempt(() => [data(posedAs.incarnation)])).toEqual([FrameType.DirectHello]);
    expect(await attempt(() => [huge])).toEqual([FrameType.DirectHello]);
    expect(await attempt((nonce) => [join(posedAs, nonce), data(posedAs.incarnation)])).toEqual([
      FrameType.DirectHello,
    ]);
    // The same member as itself proves who it is and is welcomed: the proof is what decides.
    expect(await attempt((nonce) => [join({ id: welcome.id, incarnation: 77 }, nonce)])).toEqual([
      FrameType.DirectHello,
      FrameType.DirectWelcome,
    ]);
    await raw.close();

    await sender.call('stream', { to: 3, count: 100 });
    await expectNumbers(receiver, 2, range(0, 100));
    expect(Object.keys((await received(receiver)).numbers)).toEqual(['2']);
  },
);
