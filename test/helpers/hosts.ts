import type { ChannelOptions, PeerId } from '../../src/index.js';
import { Proc } from './processes.js';
import { type TempDir, tempDir } from './temp-dir.js';
import { until } from './wait.js';

/**
 * Hosts simulated on one machine: each host is its own socket directory and `federation.host`
 * name, all on one channel name and one Redis. A process of a host is a host-peer.js fixture.
 */

/** What a host-peer.js fixture answers to `state`. */
export interface HostPeerState {
  pid: number;
  id: number;
  host: string;
  hosts: string[];
  isHub: boolean;
  hubId: number | undefined;
  connected: boolean;
  peers: PeerId[];
  isLeader: boolean;
  epoch: number;
  pendingBytes: number;
}

/** What a host-peer.js fixture answers to `received`. */
export interface HostPeerReceived {
  /** Per `${sender}|${label}`: the numbers received, in arrival order. */
  streams: Record<string, number[]>;
  localDeliveries: number;
  remoteDeliveries: number;
  errors: { name: string; code: string; message: string; target?: PeerId }[];
}

/** What a host-peer.js fixture answers to `counts`. */
export interface HostPeerCounts {
  streams: Record<string, number>;
  localDeliveries: number;
  remoteDeliveries: number;
}

/** Options shared by every process of the simulated hosts. */
export interface HostsOptions {
  redis: string;
  channel?: string;
  secret?: string;
  /** More channel options (liveness, graceMs...). */
  options?: ChannelOptions;
  /** Federation options beyond redis and host (hostTimeoutMs, leaseMs...). */
  federation?: Record<string, unknown>;
}

/** A process of a simulated host. */
export interface HostPeer {
  host: string;
  id: number;
  proc: Proc;
}

/**
 * Liveness small enough that a hub kill is noticed within about a second and a vanished host
 * within hostTimeoutMs; the tests wait on conditions, never on these.
 */
export const FAST = {
  heartbeatIntervalMs: 250,
  heartbeatTimeoutMs: 1000,
  stallTimeoutMs: 1000,
};
export const FAST_FEDERATION = { hostTimeoutMs: 1500, leaseMs: 1500 };

let channels = 0;

/** The hosts of one test: start processes on them, find their hubs, wait for them to agree. */
export class Hosts {
  readonly channel: string;
  private readonly dirs = new Map<string, TempDir>();
  private readonly live: HostPeer[] = [];

  constructor(private readonly opts: HostsOptions) {
    this.channel = opts.channel ?? `fed${process.pid}x${++channels}`;
  }

  /** The socket directory of `host` (made on first use). */
  dir(host: string): string {
    let d = this.dirs.get(host);
    if (d === undefined) this.dirs.set(host, (d = tempDir()));
    return d.path;
  }

  /** The HOST_PEER environment of peer `id` of `host`; `extra` goes into the config. */
  env(host: string, id: number, extra: Record<string, unknown> = {}): Record<string, string> {
    const options: ChannelOptions = {
      name: this.channel,
      dir: this.dir(host),
      id,
      ...FAST,
      ...(this.opts.secret === undefined ? {} : { secret: this.opts.secret }),
      ...this.opts.options,
      federation: {
        redis: this.opts.redis,
        host,
        ...FAST_FEDERATION,
        ...this.opts.federation,
      },
    };
    return { HOST_PEER: JSON.stringify({ options, ...extra }) };
  }

  /** Starts peer `id` on `host` and waits until it has joined its host's hub. */
  async start(host: string, id: number, extra: Record<string, unknown> = {}): Promise<HostPeer> {
    const proc = await Proc.start('host-peer.js', this.env(host, id, extra));
    await proc.call('connect', {}, 60_000);
    const peer = { host, id, proc };
    this.live.push(peer);
    return peer;
  }

  /** Starts the ids 1..n on each host, in parallel. */
  async startAll(
    layout: Record<string, number>,
    extra: Record<string, unknown> = {},
  ): Promise<HostPeer[]> {
    const starts: Promise<HostPeer>[] = [];
    for (const [host, n] of Object.entries(layout)) {
      for (let id = 1; id <= n; id++) starts.push(this.start(host, id, extra));
    }
    return Promise.all(starts);
  }

  /** The processes still running, of one host or of all. */
  peers(host?: string): HostPeer[] {
    return this.live.filter((p) => p.proc.alive && (host === undefined || p.host === host));
  }

  /** Peer `id` of `host`, which must be running. */
  peer(host: string, id: number): HostPeer {
    const p = this.peers(host).find((q) => q.id === id);
    if (p === undefined) throw new Error(`no live peer ${host}/${id}`);
    return p;
  }

  /** The process that hosts `host`'s hub (and so its bridge), once one does. */
  async hub(host: string): Promise<HostPeer> {
    const hub = await until(
      async () => {
        for (const p of this.peers(host)) {
          const s = await p.proc.call<HostPeerState>('state').catch(() => undefined);
          if (s?.isHub === true && s.connected) return p;
        }
        return undefined;
      },
      30_000,
      `a hub on host ${host}`,
    );
    return hub!;
  }

  /** kill -9 of a process; with `restart`, the same id on the same host again at once. */
  async kill(peer: HostPeer, restart = false): Promise<HostPeer | undefined> {
    await peer.proc.kill('SIGKILL');
    if (!restart) return undefined;
    return this.start(peer.host, peer.id);
  }

  /**
   * What `viewer` should list as `peers`: its host's ids ascending, then every other host's
   * live peers as 'host/id', by host, then id.
   */
  expectedPeers(viewer: string): PeerId[] {
    const local = this.peers(viewer)
      .map((p) => p.id)
      .sort((a, b) => a - b);
    const remote = this.peers()
      .filter((p) => p.host !== viewer)
      .sort(byHostThenId)
      .map((p): PeerId => `${p.host}/${p.id}`);
    return [...local, ...remote];
  }

  /**
   * Waits until every live process is connected, each host has exactly one hub that all its
   * processes name, and every process lists exactly the live peers of every host. Resolves with
   * their states, by host, then id.
   */
  async settled(timeoutMs = 30_000): Promise<HostPeerState[]> {
    let states: HostPeerState[] = [];
    let why = '';
    await until(
      async () => {
        const live = this.peers().sort(byHostThenId);
        states = await Promise.all(live.map((p) => p.proc.call<HostPeerState>('state')));
        why = settledProblem(live, states, (host) => this.expectedPeers(host));
        return why === '';
      },
      timeoutMs,
      'the hosts to settle',
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${why}`);
    });
    return states;
  }

  /** Kills every process (tests call it in afterEach) and removes the socket directories. */
  async close(): Promise<void> {
    await Promise.all(this.live.map((p) => p.proc.kill('SIGKILL')));
    for (const d of this.dirs.values()) d.remove();
    this.dirs.clear();
  }
}

function byHostThenId(a: HostPeer, b: HostPeer): number {
  return a.host === b.host ? a.id - b.id : a.host < b.host ? -1 : 1;
}

/** Why the processes have not settled yet, or '' when they have. */
function settledProblem(
  live: HostPeer[],
  states: HostPeerState[],
  expected: (host: string) => PeerId[],
): string {
  const hosts = [...new Set(live.map((p) => p.host))].sort();
  for (const host of hosts) {
    const mine = states.filter((_, i) => live[i]!.host === host);
    const hubs = mine.filter((s) => s.isHub);
    if (hubs.length !== 1) return `host ${host} has ${hubs.length} hubs`;
    const want = JSON.stringify(expected(host));
    for (const s of mine) {
      if (!s.connected) return `${host}/${s.id} is not connected`;
      if (s.hubId !== hubs[0]!.id) return `${host}/${s.id} names hub ${s.hubId}`;
      if (JSON.stringify(s.peers) !== want)
        return `${host}/${s.id} lists ${JSON.stringify(s.peers)}, not ${want}`;
      if (JSON.stringify(s.hosts) !== JSON.stringify(hosts))
        return `${host}/${s.id} knows hosts ${JSON.stringify(s.hosts)}`;
    }
  }
  return '';
}

/** How `receiver` names `sender` (a number on its own host, 'host/id' on another). */
export function nameOf(sender: HostPeer, receiver: HostPeer): PeerId {
  return sender.host === receiver.host ? sender.id : `${sender.host}/${sender.id}`;
}

/** How `sender` addresses `receiver`. */
export const targetOf = (receiver: HostPeer, sender: HostPeer): PeerId => nameOf(receiver, sender);

let marks = 0;

/**
 * Resolves once `receiver` has everything `sender` sent it before this call: a marker sent now
 * arrives after all of it, since order holds per sender and receiver.
 */
export async function barrier(sender: HostPeer, receiver: HostPeer): Promise<void> {
  const token = `mark-${++marks}`;
  await sender.proc.call('mark', { to: targetOf(receiver, sender), token });
  await receiver.proc.waitEvent((e) => e.ev === 'mark' && e.token === token, 30_000);
}

/** The numbers `receiver` got from `sender` on the stream `label`. */
export async function streamOf(
  receiver: HostPeer,
  sender: HostPeer,
  label: string | number,
): Promise<number[]> {
  const r = await receiver.proc.call<HostPeerReceived>('received');
  return r.streams[`${nameOf(sender, receiver)}|${label}`] ?? [];
}

/**
 * Waits until `receiver` holds `count` numbers of `sender`'s stream `label`, then expects
 * exactly 0..count-1 in order: a loss shows as a timeout, a copy or a swap as a difference.
 */
export async function expectStream(
  receiver: HostPeer,
  sender: HostPeer,
  label: string | number,
  count: number,
  timeoutMs = 30_000,
): Promise<void> {
  const key = `${nameOf(sender, receiver)}|${label}`;
  const got = () => streamOf(receiver, sender, label);
  await until(
    async () => ((await receiver.proc.call<HostPeerCounts>('counts')).streams[key] ?? 0) >= count,
    timeoutMs,
    `${count} numbers of ${key} at ${receiver.host}/${receiver.id}`,
  ).catch(async (e: Error) => {
    throw new Error(`${e.message}: ${describeGaps(await got(), count)}`);
  });
  expect(await got()).toEqual(Array.from({ length: count }, (_, i) => i));
}

/** What is wrong with `list` as 0..count-1: the missing numbers (as ranges) and the copies. */
function describeGaps(list: number[], count: number): string {
  const seen = new Set(list);
  const missing: string[] = [];
  for (let i = 0; i < count; i++) {
    if (seen.has(i)) continue;
    let j = i;
    while (j + 1 < count && !seen.has(j + 1)) j++;
    missing.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return `got ${list.length}, missing ${missing.join(',') || 'none'}, copies ${list.length - seen.size}`;
}
