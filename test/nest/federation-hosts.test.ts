/**
 * The Nest layer across two hosts of one federated channel, A and B, both in this process
 * (each in its own directory, with its own hub and bridge) over the in-memory store:
 * - a handler on B sees a sender on A as 'A/1', and answers it there;
 * - a request without a target stays on this host while a local peer handles its pattern, and
 *   goes to another host's only when none does;
 * - a gather reaches every handler of every host, each IpcReply naming its peer ('B/2');
 *   `to('host')` only this host's;
 * - a host that goes away settles its peers' entries with PeerLeftError;
 * - a timeout tells a request stored in the other host's inbox from one that never got there.
 *
 * Host A: one Nest app (peer 1). Host B: one Nest app (peer 1) and a plain channel that answers
 * the Nest wire itself (peer 2), so B has two handlers of 'where'.
 */
import 'reflect-metadata';
import { Controller, Inject, type INestMicroservice, Module } from '@nestjs/common';
import { ClientsModule, Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import {
  Channel,
  type ChannelOptions,
  IpcClient,
  type IpcContext,
  type IpcReply,
  IpcServer,
  NoEventHandlerError,
  PeerLeftError,
  type PeerId,
  RequestTimeoutError,
} from '../../src/index.js';
import { WIRE, sendResponse } from '../../src/nest/protocol/nest-wire.js';
import { comparePeers } from '../../src/nest/shared/peer-id.js';
import { MemoryStore } from '../helpers/memory-adapter.js';
import { type TempDir, tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/wait.js';

const HOST = 'HOST';

interface Where {
  host: string;
  id: number;
}

@Controller()
class EveryHostController {
  constructor(@Inject(HOST) private readonly host: string) {}

  @MessagePattern('where')
  where(_: unknown, @Ctx() ctx: IpcContext): Where {
    return { host: this.host, id: ctx.getChannel().id! };
  }

  @MessagePattern('sender')
  sender(_: unknown, @Ctx() ctx: IpcContext): PeerId {
    return ctx.getSender();
  }

  @EventPattern('hello')
  hello(@Payload() n: number, @Ctx() ctx: unknown): void {
    const sender = (ctx as IpcContext).getSender();
    heard.push(`${this.host} heard ${n} from ${String(sender)}`);
  }
}

@Controller()
class OnlyOnBController {
  @MessagePattern('only-b')
  onlyB(_: unknown, @Ctx() ctx: IpcContext): PeerId {
    return ctx.getSender();
  }

  @EventPattern('b-only')
  bOnly(@Payload() n: number): void {
    heard.push(`B heard b-only ${n}`);
  }

  /** Never answers: a gather of it waits until the host goes away. */
  @MessagePattern('stall')
  stall(_: unknown, @Ctx() ctx: IpcContext): Promise<never> {
    stalled.push(`B/${ctx.getChannel().id}`);
    return new Promise<never>(() => {});
  }
}

/** The 'hello' events each host's Nest app handled, in order. */
const heard: string[] = [];
/** The peers of B that read a 'stall' request, as A names them. */
const stalled: string[] = [];
let store: MemoryStore;
let dirs: TempDir[];
const closers: (() => Promise<unknown>)[] = [];
beforeEach(() => {
  store = new MemoryStore();
  stalled.length = 0;
  heard.length = 0;
  dirs = [tempDir(), tempDir()];
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const d of dirs) d.remove();
});

/** The channel options of host `host` (A uses the first directory, B the second). */
function options(host: 'A' | 'B'): ChannelOptions {
  return {
    name: 'fed',
    dir: dirs[host === 'A' ? 0 : 1]!.path,
    heartbeatIntervalMs: 100,
    closeTimeoutMs: 200,
    federation: { host, adapter: store.factory, hostTimeoutMs: 1000 },
  };
}

/** One host's Nest app: its IpcServer (handlers of every host, plus B's own) and IpcClient. */
async function app(host: 'A' | 'B'): Promise<{ app: INestMicroservice; client: IpcClient }> {
  @Module({
    imports: [
      ClientsModule.register([{ name: 'IPC', customClass: IpcClient, options: options(host) }]),
    ],
    controllers: host === 'B' ? [EveryHostController, OnlyOnBController] : [EveryHostController],
    providers: [{ provide: HOST, useValue: host }],
  })
  class HostModule {}
  const moduleRef = await Test.createTestingModule({ imports: [HostModule] }).compile();
  const nest = moduleRef.createNestMicroservice({
    strategy: new IpcServer(options(host)),
    logger: false,
  });
  closers.push(() => nest.close());
  await nest.listen();
  const client = nest.get<IpcClient>('IPC');
  await client.connect();
  return { app: nest, client };
}

/** A second peer on host B that handles 'where' and 'stall' by speaking the Nest wire itself. */
async function plainPeerOnB(): Promise<Channel> {
  const channel = new Channel({ ...options('B'), meta: { nest: { m: ['where', 'stall'] } } });
  closers.push(() => channel.close());
  channel._read(WIRE.request, (sender, [id, pattern]) => {
    if (pattern === 'stall') stalled.push(`B/${channel.id}`);
    if (pattern !== 'where') return;
    sendResponse(channel, WIRE.responseValue, sender, id as string, { host: 'B', id: channel.id });
  });
  await channel.connect();
  return channel;
}

/** A, then B with its two peers, each host seeing the other's. */
async function twoHosts() {
  const a = await app('A');
  const b = await app('B');
  const plain = await plainPeerOnB();
  await until(() => a.client.peers.length === 3, 10_000, "A sees B's peers");
  await until(() => b.client.peers.length === 3, 10_000, "B sees A's peer");
  return { a, b, plain };
}

function byPeer(replies: IpcReply[]): IpcReply[] {
  return [...replies].sort((x, y) => comparePeers(x.peer, y.peer));
}

test("peers of both hosts are listed in the channel's order, and a handler on B sees A's peer as 'A/1'", async () => {
  const { a, b } = await twoHosts();
  expect(a.client.peers).toEqual([1, 'B/1', 'B/2']);
  expect(b.client.peers).toEqual([1, 2, 'A/1']);
  expect(await firstValueFrom(a.client.to('B/1').send<PeerId>('sender', 0))).toBe('A/1');
  expect(await firstValueFrom(b.client.to('A/1').send<PeerId>('sender', 0))).toBe('B/1');
  // This host's own name is the same peer as its number.
  expect(await firstValueFrom(a.client.to('A/1').send<PeerId>('sender', 0))).toBe(1);
});

test("events reach every host's handlers with the sender as that host names it; to('host') stays here", async () => {
  const { a } = await twoHosts();
  await firstValueFrom(a.client.to('host').emit('hello', 1));
  await firstValueFrom(a.client.emit('hello', 2));
  await until(() => heard.length === 3, 10_000, 'both hosts heard');
  // A hears both of its own, in order; B only the one sent to every host, from A/1.
  expect(heard.filter((h) => h.startsWith('A'))).toEqual(['A heard 1 from 1', 'A heard 2 from 1']);
  expect(heard.filter((h) => h.startsWith('B'))).toEqual(['B heard 2 from A/1']);
});

test('with confirmEvents, an event only another host handles is confirmed; one nobody handles fails', async () => {
  await twoHosts();
  const client = new IpcClient({ ...options('A'), confirmEvents: true });
  closers.push(() => client.close());
  // Confirmed once B's inbox has it (and B announced a handler); B handles it after that.
  await firstValueFrom(client.emit('b-only', 1));
  await until(() => heard.length === 1, 10_000, 'B handled it');
  expect(heard).toEqual(['B heard b-only 1']);
  const err = await firstValueFrom(client.emit('nobody', 1)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NoEventHandlerError);
});

test("a request without a target stays on this host while one handles it; otherwise it goes to another host's", async () => {
  const { a } = await twoHosts();
  const answers: Where[] = [];
  for (let i = 0; i < 4; i++) answers.push(await firstValueFrom(a.client.send<Where>('where', 0)));
  expect(answers).toEqual([1, 2, 3, 4].map(() => ({ host: 'A', id: 1 })));
  // 'only-b' has no handler on A: B's Nest peer answers, and saw the request come from A/1.
  expect(await firstValueFrom(a.client.send<PeerId>('only-b', 0))).toBe('A/1');
});

test('a gather reaches every handler of every host; to(host) only this host; IpcReply names remote peers', async () => {
  const { a } = await twoHosts();
  const all = await lastValueFrom(a.client.to('all').send<Where>('where', 0).pipe(toArray()));
  expect(byPeer(all)).toEqual([
    { peer: 1, data: { host: 'A', id: 1 } },
    { peer: 'B/1', data: { host: 'B', id: 1 } },
    { peer: 'B/2', data: { host: 'B', id: 2 } },
  ]);
  const others = await lastValueFrom(a.client.to('others').send<Where>('where', 0).pipe(toArray()));
  expect(byPeer(others).map((r) => r.peer)).toEqual(['B/1', 'B/2']);
  const local = await lastValueFrom(a.client.to('host').send<Where>('where', 0).pipe(toArray()));
  expect(local).toEqual([{ peer: 1, data: { host: 'A', id: 1 } }]);
});

test("a host that goes away settles its peers' entries of a gather with PeerLeftError", async () => {
  const { a, b, plain } = await twoHosts();
  const gathered = lastValueFrom(a.client.to('all').send('stall', 0).pipe(toArray()));
  // Both of B's peers have read the request before B goes.
  await until(() => stalled.length === 2, 10_000, "B's peers read it");
  expect(stalled.sort()).toEqual(['B/1', 'B/2']);
  await Promise.all([b.app.close(), plain.close()]);
  const replies = byPeer(await gathered);
  expect(replies.map((r) => [r.peer, r.error?.constructor])).toEqual([
    ['B/1', PeerLeftError],
    ['B/2', PeerLeftError],
  ]);
  expect((replies[0]!.error as PeerLeftError).message).toBe(
    "Peer B/1 left before answering 'stall'. The request may or may not have run there; retry if it is safe to.",
  );
  expect(a.client.peers).toEqual([1]);
});

test("a request to a peer on another host that times out says it reached that host's inbox", async () => {
  await twoHosts();
  const client = new IpcClient({ ...options('A'), timeout: 1000 });
  closers.push(() => client.close());
  const asked = firstValueFrom(client.to('B/1').send('stall', 0)).catch((e: unknown) => e);
  await until(() => stalled.length === 1, 10_000, 'B/1 read it');
  const err = (await asked) as RequestTimeoutError;
  expect(err).toBeInstanceOf(RequestTimeoutError);
  expect([err.peer, err.read]).toEqual(['B/1', true]);
  expect(err.message).toBe(
    "Peer B/1 got 'stall' into its host's inbox but no answer came within 1000 ms: its handler is slow, that host's hub or bridge is behind, or its event loop is blocked. Raise the client's 'timeout' option if the handler is slow.",
  );
});
