import { type Proc, startMany } from './processes.js';
import { range } from './range.js';
import type { Sandbox } from './sandbox.js';
import { until } from './wait.js';

/** What a peer.js fixture answers to `state`: its Channel's public state. */
export interface PeerState {
  pid: number;
  /** Absent until the process has joined. */
  id: number;
  isHub: boolean;
  connected: boolean;
  peers: number[];
  hubId: number;
  isLeader: boolean;
  epoch: number;
  pendingBytes: number;
  directPeers: number[];
}

/** An error a fixture's Channel reported; the last four are an UndeliverableError's. */
export interface ReportedError {
  name: string;
  code: string;
  message: string;
  target?: number;
  reason?: string;
  event?: string;
  data?: unknown;
}

/** What a peer.js fixture answers to `received`. */
export interface PeerReceived {
  /** The numbers of each sender's 'n' events, by sender id, in arrival order. */
  numbers: Record<string, number[]>;
  /** `[sender, message]` of every 'message', in arrival order. */
  messages: [number, unknown][];
  errors: ReportedError[];
}

export const received = (p: Proc): Promise<PeerReceived> => p.call<PeerReceived>('received');

/** How many numbers `p` has received from peer `sender`. */
export async function countFrom(p: Proc, sender: number): Promise<number> {
  return (await p.call<Record<string, number>>('counts'))[sender] ?? 0;
}

/** The numbers `p` has received from peer `sender`, in arrival order. */
export async function numbersFrom(p: Proc, sender: number): Promise<number[]> {
  return (await received(p)).numbers[sender] ?? [];
}

/**
 * Waits until `p` has as many numbers from peer `sender` as `expected` holds, then expects
 * exactly those: a lost number shows as a timeout, anything extra as a difference.
 */
export async function expectNumbers(
  p: Proc,
  sender: number,
  expected: number[],
  timeoutMs?: number,
): Promise<void> {
  await until(
    async () => (await countFrom(p, sender)) >= expected.length,
    timeoutMs,
    `${expected.length} numbers from peer ${sender} in process ${p.pid}`,
  );
  expect(await numbersFrom(p, sender)).toEqual(expected);
}

let marks = 0;

/**
 * Resolves once `receiver` (peer `to`) has everything `sender` sent it before this call and can
 * get none of it again: a marker sent now arrives after all of it, since order holds per sender
 * and receiver, and a receiver drops any older frame that comes again. After it, "nothing more
 * arrived" is a fact, not a guess about how long to wait.
 */
export async function barrier(sender: Proc, to: number, receiver: Proc): Promise<void> {
  const token = `mark-${++marks}`;
  await sender.call('mark', { to, token });
  await receiver.waitEvent((e) => e.ev === 'mark' && e.token === token);
}

/**
 * Waits until every one of `procs` is joined to one hub and lists exactly their ids; resolves
 * with their states.
 */
export async function settled(procs: Proc[]): Promise<PeerState[]> {
  let states: PeerState[] = [];
  await until(
    async () => {
      states = await Promise.all(procs.map((p) => p.call<PeerState>('state')));
      const ids = states.map((s) => s.id).sort((a, b) => a - b);
      const hubs = states.filter((s) => s.isHub);
      return (
        hubs.length === 1 &&
        states.every((s) => s.connected && s.hubId === hubs[0]!.id && s.peers.join() === ids.join())
      );
    },
    undefined,
    'the channel to settle on one hub',
  );
  return states;
}

/**
 * Two joined peers that stream numbers to each other through a whole test file: each `more()`
 * sends `count` further numbers each way, after which both must hold every number streamed so
 * far, in order, exactly once.
 */
export class TwoWayStream {
  private streamed = 0;

  constructor(
    private readonly a: { proc: Proc; id: number },
    private readonly b: { proc: Proc; id: number },
  ) {}

  async more(count: number): Promise<void> {
    const from = this.streamed;
    this.streamed += count;
    await this.a.proc.call('stream', { to: this.b.id, count, from });
    await this.b.proc.call('stream', { to: this.a.id, count, from });
    const all = range(0, this.streamed);
    await expectNumbers(this.b.proc, this.a.id, all);
    await expectNumbers(this.a.proc, this.b.id, all);
  }
}

/**
 * A hub and one more peer, peer.js processes of `box` (the first hosts the hub, as id 1), and a
 * TwoWayStream between them: the honest traffic that a test of hostile input checks goes on.
 */
export async function hubAndPeerStreaming(
  box: Sandbox,
): Promise<{ hub: Proc; other: Proc; hubPid: number; traffic: TwoWayStream }> {
  const [hub, other] = (await startMany(2, 'peer.js', () => box.peerEnv())) as [Proc, Proc];
  const hubPid = (await hub.call<PeerState>('connect')).pid;
  await other.call('connect');
  expect((await hub.call<PeerState>('state')).isHub).toBe(true);
  const traffic = new TwoWayStream({ proc: hub, id: 1 }, { proc: other, id: 2 });
  return { hub, other, hubPid, traffic };
}
