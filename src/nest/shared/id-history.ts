import { availableParallelism } from 'node:os';
import type { PeerId } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';

/** What a peer announced in its channel meta (see HandlerDirectory). */
interface NestMeta {
  nest?: { m?: string[] };
}

/** Why an id that nobody holds now is expected back. */
export type AbsentIdKind =
  /** A process held it and left less than graceMs ago: its successor usually takes it back. */
  | 'restarting'
  /** Nobody held it yet, but under PM2 it is the id of one of the app's instances. */
  | 'pm2-instance'
  /** Nobody holds it, and nobody is expected to: a wrong id, or a process gone for good. */
  | 'unknown';

/** What this process knows of an id nobody holds now. */
export interface AbsentId {
  readonly kind: AbsentIdKind;
  /** Ms since its last holder left (for 'restarting'). */
  readonly leftMsAgo?: number;
  /** The PM2 app's instance count (for 'pm2-instance'). */
  readonly instances?: number;
}

/**
 * The ids this process has seen come and go, so that an error about an id nobody holds can
 * say whether it is restarting or was never held, a request may wait for its successor, and a
 * gather can name the peers it expected and did not hear from.
 *
 * Only this host's ids are followed. A peer on another host is known only through its host's
 * published view: when it leaves, nothing here tells a restart from a host gone for good, and
 * PM2's instance numbers are this host's alone. An absent remote id is 'unknown'.
 */
export class IdHistory {
  /** When each id's holder left, until a process holds it again. */
  private readonly leftAt = new Map<number, number>();
  /** The message routes each id's last holder announced (kept after it left). */
  private readonly routes = new Map<number, readonly string[]>();
  /** Ids a process held at some point while this one was joined. */
  private readonly seen = new Set<number>();
  private readonly instances = pm2Instances();

  constructor(
    private readonly channel: Channel,
    /** How long an id stays "restarting" after its holder left (the channel's graceMs). */
    private readonly graceMs: number,
  ) {
    const update = (id: PeerId) => {
      if (typeof id === 'number') this.update(id);
    };
    channel.on('join', (id: PeerId) => {
      if (typeof id !== 'number') return;
      this.leftAt.delete(id);
      update(id);
    });
    channel.on('meta', update);
    channel.on('connect', () => channel.peers.forEach(update));
    channel.on('leave', (id: PeerId) => {
      if (typeof id === 'number') this.leftAt.set(id, Date.now());
    });
  }

  /** What is known of `id`, which nobody holds now. */
  absent(id: PeerId): AbsentId {
    if (typeof id !== 'number') return { kind: 'unknown' };
    const left = this.leftAt.get(id);
    const now = Date.now();
    if (left !== undefined && now - left < this.graceMs)
      return { kind: 'restarting', leftMsAgo: now - left };
    // Only an instance never seen: one whose process left longer ago than graceMs is gone
    // (pm2 scale down, pm2 stop).
    if (this.isInstance(id)) return { kind: 'pm2-instance', instances: this.instances };
    return { kind: 'unknown' };
  }

  /**
   * When an absent id stops counting as restarting: graceMs after its holder left, or from now
   * for an id nobody held yet.
   */
  restartDeadline(id: PeerId): number {
    const left = typeof id === 'number' ? this.leftAt.get(id) : undefined;
    return (left ?? Date.now()) + this.graceMs;
  }

  /**
   * Ids of this host expected to answer a gather for `route` though nobody holds them now: those
   * whose last holder handled it and left less than graceMs ago, and under PM2 every instance of
   * the app that has not joined yet (every instance runs the same app).
   */
  expectedAbsent(route: string): number[] {
    const out: number[] = [];
    const now = Date.now();
    for (const [id, left] of this.leftAt) {
      if (now - left < this.graceMs && this.routes.get(id)?.includes(route) === true) out.push(id);
    }
    if (this.instances !== undefined) {
      const members = new Set<PeerId>(this.channel.peers);
      for (let id = 1; id <= this.instances; id++) {
        if (!members.has(id) && !this.seen.has(id)) out.push(id);
      }
    }
    return out.sort((a, b) => a - b);
  }

  private isInstance(id: number): boolean {
    return this.instances !== undefined && id >= 1 && id <= this.instances && !this.seen.has(id);
  }

  private update(id: number): void {
    this.seen.add(id);
    const meta = this.channel.peerInfo(id)?.meta as NestMeta | null | undefined;
    const m = meta?.nest?.m;
    if (m !== undefined) this.routes.set(id, m);
  }
}

/**
 * The instance count of this process's PM2 app, when it is a PM2 cluster or fork worker whose
 * peer ids follow its instance numbers (the channel's default). PM2 gives each worker the
 * `instances` it was started with; 'max' and negative counts are relative to the CPUs.
 */
export function pm2Instances(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (env.pm_id === undefined || env[env.instance_var || 'NODE_APP_INSTANCE'] === undefined)
    return undefined;
  const raw = env.instances?.trim();
  if (raw === undefined || raw === '') return undefined;
  const cpus = availableParallelism();
  if (raw === 'max' || raw === '0') return cpus;
  const n = Number(raw);
  if (!Number.isInteger(n)) return undefined;
  return n < 0 ? Math.max(1, cpus + n) : n;
}
