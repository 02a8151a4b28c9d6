import type { Channel } from './channel.js';
import { InvalidTargetError, TooManyArgumentsError } from './errors.js';
import { FrameFlag, MAX_PEER_ID, TARGET_ALL, TARGET_OTHERS } from './wire/frame.js';

/** A peer on this host by number, or on another host (see the `federation` option) as `'<host>/<id>'`. */
export type PeerId = number | `${string}/${number}`;

/**
 * Who a send goes to: one peer (see PeerId), every peer (`'all'`, self included), every other
 * peer (`'others'`), or every peer on this host only (`'host'`). With federation, `'all'` and
 * `'others'` span every host.
 */
export type TargetSpec = PeerId | 'all' | 'others' | 'host';

/** A peer on another host. */
export interface RemotePeer {
  readonly host: string;
  readonly id: number;
}

/** Where a TargetSpec sends: a wire target and extra flags, and the host when it is another one. */
export interface Route {
  /** A local peer id, ALL or OTHERS; for a remote peer, its id on its host. */
  readonly code: number;
  readonly flags: number;
  readonly remote: RemotePeer | undefined;
}

function isPeerNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_PEER_ID;
}

/** Splits `'<host>/<id>'` (a host name of 1 to 64 characters without '/'); undefined when it is not one. */
export function parsePeerId(id: string): RemotePeer | undefined {
  const slash = id.indexOf('/');
  if (slash <= 0 || slash > 64 || slash !== id.lastIndexOf('/')) return undefined;
  const digits = id.slice(slash + 1);
  if (!/^[1-9][0-9]{0,4}$/.test(digits)) return undefined;
  const n = Number(digits);
  return isPeerNumber(n) ? { host: id.slice(0, slash), id: n } : undefined;
}

/**
 * The route of a TargetSpec. `ownHost` is this host's name when federated: `'<ownHost>/3'` is
 * local peer 3, and other hosts are refused without federation.
 */
export function targetRoute(target: TargetSpec, ownHost: string | undefined): Route {
  if (target === 'all') return { code: TARGET_ALL, flags: 0, remote: undefined };
  if (target === 'others') return { code: TARGET_OTHERS, flags: 0, remote: undefined };
  if (target === 'host') return { code: TARGET_ALL, flags: FrameFlag.HostOnly, remote: undefined };
  if (isPeerNumber(target)) return { code: target, flags: 0, remote: undefined };
  const remote = typeof target === 'string' ? parsePeerId(target) : undefined;
  if (remote === undefined) throw new InvalidTargetError(target);
  if (remote.host === ownHost) return { code: remote.id, flags: 0, remote: undefined };
  if (ownHost === undefined) throw new InvalidTargetError(target, false);
  return { code: remote.id, flags: 0, remote };
}

/** Per-send options. */
export interface SendOptions {
  /**
   * Hold the message for the grace period if its target is absent (default true). With false,
   * a message to an absent peer, or one that leaves before reading it, fails at once.
   */
  hold?: boolean;
  /**
   * @internal Deliver to the process holding the id now even while it retires (see
   * FrameFlag.ToProcess); the Nest binding sends answers and cancels this way.
   */
  _toProcess?: boolean;
}

/** The frame flags that carry a send's options. */
export function sendFlags(options: SendOptions | undefined): number {
  return (
    (options?.hold === false ? FrameFlag.NoHold : 0) |
    (options?._toProcess === true ? FrameFlag.ToProcess : 0)
  );
}

/** The sending half of `channel.to(target)`. */
export class ChannelTarget {
  /** @internal */
  constructor(
    private readonly channel: Channel,
    /** The wire target: a peer id, or the ALL / OTHERS codes. */
    private readonly code: number,
    private readonly flags: number,
    /** The host of a peer on another host, whose id is `code` there. */
    private readonly remote?: RemotePeer,
  ) {}

  /**
   * Sends one message, received by `on('message', (sender, msg) => ...)`. Returns false when
   * the caller should wait for `'drain'` before sending more; the message is accepted either way.
   * More than one argument throws TooManyArgumentsError: send one value that holds them all.
   */
  send(message: unknown): boolean;
  send(message: unknown, ...extra: unknown[]): boolean {
    if (extra.length !== 0) throw new TooManyArgumentsError('send', extra.length + 1);
    return this.channel._enqueue(this.code, this.flags, null, message, this.remote);
  }

  /**
   * Emits a named event with arguments, received by `on(event, (sender, ...args) => ...)`.
   * Returns false when the caller should wait for `'drain'`; the event is accepted either way.
   */
  emit(event: string, ...args: unknown[]): boolean {
    return this.channel._enqueue(this.code, this.flags, event, args, this.remote);
  }

  /**
   * Sends one message like `send`, and resolves once its target has read it (the hub confirmed
   * it). Rejects with UndeliverableError when no process received it, DeliveryUncertainError
   * when its target may have read it but went away unconfirmed (see docs/guarantees.md), or at
   * once with the error `send` would throw. A message held for an absent peer resolves when
   * that id's next process reads it. To a peer on another host it resolves once the message is
   * stored in that host's inbox (the store then keeps it until that host reads it); a host not
   * known yet gets it too, since it may be starting. The failure goes to this promise only, not
   * to `'error'`.
   */
  sendConfirmed(message: unknown): Promise<void>;
  sendConfirmed(message: unknown, ...extra: unknown[]): Promise<void> {
    if (extra.length !== 0)
      return Promise.reject(new TooManyArgumentsError('sendConfirmed', extra.length + 1));
    return this.channel._enqueueConfirmed(this.code, this.flags, null, message, this.remote);
  }

  /**
   * Emits an event like `emit`, and resolves once every target has read it (for `'all'` and
   * `'others'`: every peer the hub routed it to). Rejects as `sendConfirmed` does.
   */
  emitConfirmed(event: string, ...args: unknown[]): Promise<void> {
    return this.channel._enqueueConfirmed(this.code, this.flags, event, args, this.remote);
  }
}
