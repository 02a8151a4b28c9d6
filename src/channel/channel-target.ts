import type { Channel } from './channel.js';
import { InvalidTargetError, TooManyArgumentsError } from './errors.js';
import { FrameFlag, MAX_PEER_ID, TARGET_ALL, TARGET_OTHERS } from './wire/frame.js';

/** Who a send goes to: one peer id, every peer (`'all'`, self included) or `'others'`. */
export type TargetSpec = number | 'all' | 'others';

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

/** The wire target of a TargetSpec: a peer id, or the ALL / OTHERS codes. */
export function targetCode(target: TargetSpec): number {
  if (target === 'all') return TARGET_ALL;
  if (target === 'others') return TARGET_OTHERS;
  if (
    typeof target === 'number' &&
    Number.isInteger(target) &&
    target >= 1 &&
    target <= MAX_PEER_ID
  )
    return target;
  throw new InvalidTargetError(target);
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
  ) {}

  /**
   * Sends one message, received by `on('message', (sender, msg) => ...)`. Returns false when
   * the caller should wait for `'drain'` before sending more; the message is accepted either way.
   * More than one argument throws TooManyArgumentsError: send one value that holds them all.
   */
  send(message: unknown): boolean;
  send(message: unknown, ...extra: unknown[]): boolean {
    if (extra.length !== 0) throw new TooManyArgumentsError('send', extra.length + 1);
    return this.channel._enqueue(this.code, this.flags, null, message);
  }

  /**
   * Emits a named event with arguments, received by `on(event, (sender, ...args) => ...)`.
   * Returns false when the caller should wait for `'drain'`; the event is accepted either way.
   */
  emit(event: string, ...args: unknown[]): boolean {
    return this.channel._enqueue(this.code, this.flags, event, args);
  }

  /**
   * Sends one message like `send`, and resolves once its target has read it (the hub confirmed
   * it). Rejects with UndeliverableError when no process received it, DeliveryUncertainError
   * when its target may have read it but went away unconfirmed (see docs/guarantees.md), or at
   * once with the error `send` would throw. A message held for an absent peer resolves when
   * that id's next process reads it. The failure goes to this promise only, not to `'error'`.
   */
  sendConfirmed(message: unknown): Promise<void>;
  sendConfirmed(message: unknown, ...extra: unknown[]): Promise<void> {
    if (extra.length !== 0)
      return Promise.reject(new TooManyArgumentsError('sendConfirmed', extra.length + 1));
    return this.channel._enqueueConfirmed(this.code, this.flags, null, message);
  }

  /**
   * Emits an event like `emit`, and resolves once every target has read it (for `'all'` and
   * `'others'`: every peer the hub routed it to). Rejects as `sendConfirmed` does.
   */
  emitConfirmed(event: string, ...args: unknown[]): Promise<void> {
    return this.channel._enqueueConfirmed(this.code, this.flags, event, args);
  }
}
