import { Logger } from '@nestjs/common';
import type { TargetSpec } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import { ChannelClosedError } from '../../channel/errors.js';
import { NoEventHandlerError } from '../ipc.errors.js';

/** What is known, now, of whether a peer an event goes to handles it. */
export const enum Coverage {
  /** A peer it goes to announced a handler for it. */
  Handled = 0,
  /** Every peer it goes to announced its handlers, and none is for it. */
  Unhandled = 1,
  /**
   * Not yet known: a peer it goes to has announced nothing (its IpcServer may attach later, and
   * then reads the event from its early inbox), or this process has not joined yet.
   */
  Unknown = 2,
}

/** A warning for one pattern is printed at most once in this long. */
const WARNING_INTERVAL_MS = 60_000;

/** An event (or several of one pattern and target) whose coverage is not known yet. */
interface Pending {
  readonly route: string;
  readonly target: TargetSpec;
  /** Plain emits are waiting: a verdict of Unhandled warns. */
  warn: boolean;
  /** Confirmed emits waiting for the verdict. */
  readonly waiters: { resolve(): void; reject(error: Error): void }[];
  readonly timer: NodeJS.Timeout;
}

/**
 * Tells the sender of an event that no peer handles: a warning through Nest's Logger (at most
 * one per pattern a minute), or, for an emit that asked for confirmation, NoEventHandlerError.
 *
 * Peers announce their handlers in their channel meta, which arrives with their join. Until a
 * peer has announced (its IpcServer attaches after its client joined, as in a hybrid app), an
 * event it is sent waits in its early inbox for up to graceMs; so the verdict on such an event
 * waits as long, and is given as soon as an announcement settles it. A valid event is never
 * reported at startup: only once every peer it went to has said what it handles, or has had the
 * time the early inbox gives it.
 */
export class UnhandledEvents {
  private readonly pending = new Map<string, Pending>();
  /** Per pattern: when it was last warned about, and how many events went unhandled since. */
  private readonly warned = new Map<string, { at: number; since: number }>();
  private readonly log = new Logger('IpcClient');

  constructor(
    private readonly channel: Channel,
    /** How long a peer that announced nothing may still attach a server (graceMs). */
    private readonly waitMs: number,
    private readonly coverage: (route: string, target: TargetSpec, final: boolean) => Coverage,
  ) {}

  /**
   * An event went out whose coverage was not Handled when it was sent. With `waiter` (a
   * confirmed emit) the verdict settles it; otherwise an Unhandled verdict warns.
   */
  watch(
    route: string,
    target: TargetSpec,
    coverage: Coverage,
    waiter?: { resolve(): void; reject(error: Error): void },
  ): void {
    if (coverage === Coverage.Unhandled) {
      this.report(route, target, waiter === undefined ? 1 : 0, waiter ? [waiter] : []);
      return;
    }
    const key = `${String(target)}\u0000${route}`;
    let p = this.pending.get(key);
    if (p === undefined) {
      const timer = setTimeout(() => this.settle(key, true), this.waitMs);
      timer.unref(); // a verdict must not keep a process alive
      p = { route, target, warn: false, waiters: [], timer };
      this.pending.set(key, p);
    }
    if (waiter === undefined) p.warn = true;
    else p.waiters.push(waiter);
  }

  /** Membership or meta changed: an announcement may settle what waits. */
  recheck(): void {
    for (const key of [...this.pending.keys()]) this.settle(key, false);
  }

  /** The channel closed: nothing waits any more. */
  stop(): void {
    const closed = new ChannelClosedError(
      'learn whether a peer handles the event',
      'the channel closed first.',
    );
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      for (const w of p.waiters) w.reject(closed);
    }
    this.pending.clear();
  }

  /** Gives the verdict on a pending key if it is known (`final`: the wait is over). */
  private settle(key: string, final: boolean): void {
    const p = this.pending.get(key);
    if (p === undefined) return;
    const coverage = this.coverage(p.route, p.target, final);
    if (coverage === Coverage.Unknown && !final) return;
    clearTimeout(p.timer);
    this.pending.delete(key);
    if (coverage === Coverage.Unhandled) {
      this.report(p.route, p.target, p.warn ? 1 : 0, p.waiters);
      return;
    }
    // Handled, or still unknown when the wait ran out: the peer it went to is absent, and the
    // channel's own verdict (UndeliverableError) says what became of it.
    for (const w of p.waiters) w.resolve();
  }

  private report(
    route: string,
    target: TargetSpec,
    plain: number,
    waiters: readonly { reject(error: Error): void }[],
  ): void {
    for (const w of waiters) w.reject(new NoEventHandlerError(route, this.channel.name, target));
    if (plain === 0) return;
    const now = Date.now();
    const last = this.warned.get(route);
    if (last !== undefined && now - last.at < WARNING_INTERVAL_MS) {
      last.since += plain;
      return;
    }
    const more =
      last !== undefined && last.since > 0
        ? ` (${last.since} more such event${last.since === 1 ? '' : 's'} since the last warning)`
        : '';
    this.warned.set(route, { at: now, since: 0 });
    this.log.warn(`${new NoEventHandlerError(route, this.channel.name, target).message}${more}`);
  }
}
