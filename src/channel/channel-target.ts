import type { Channel } from './channel.js';
import { InvalidTargetError } from './errors.js';
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
   */
  send(message: unknown): boolean {
    return this.channel._enqueue(this.code, this.flags, null, message);
  }

  /**
   * Emits a named event with arguments, received by `on(event, (sender, ...args) => ...)`.
   * Returns false when the caller should wait for `'drain'`; the event is accepted either way.
   */
  emit(event: string, ...args: unknown[]): boolean {
    return this.channel._enqueue(this.code, this.flags, event, args);
  }
}
