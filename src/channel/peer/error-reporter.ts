import type { EventEmitter } from 'node:events';
import {
  type DeliveryFailure,
  DeliveryUncertainError,
  type IdRecord,
  type IpcChannelError,
  UndeliverableError,
  type UndeliverableReason,
} from '../errors.js';
import type { Log } from '../logger.js';
import type { Codec } from '../wire/codec.js';
import { FrameType, HEADER_SIZE, OFF_AUX, OFF_TYPE, readSeq, readTarget } from '../wire/frame.js';
import type { Confirmations } from './confirmations.js';

/** Errors nobody listens to are printed at most once per code in this long. */
const UNHEARD_WARNING_MS = 5000;

/**
 * Where a channel's errors go: to its 'error' listeners, else to the logger, else to a process
 * warning, so that a lost message is never silent. It also gives the verdict on each message
 * that was not delivered, and hands it to the layer above that claimed the message's event.
 */
export class ErrorReporter {
  /** Who answers for the failed messages of an event (see claim). */
  private readonly claims = new Map<string, (error: DeliveryFailure) => void>();
  /** When each error code was last printed as a process warning (see warnUnheard). */
  private readonly unheardWarnedAt = new Map<string, number>();
  /** Ids a process held since this one joined. */
  private readonly held = new Set<number>();
  /** When each id's holder left, until a process holds it again. */
  private readonly leftAt = new Map<number, number>();

  constructor(
    private readonly channel: EventEmitter,
    private readonly log: Log,
    private readonly codec: Codec,
    /** A message someone awaits the verdict on fails that promise, and nothing else. */
    private readonly confirmations: Confirmations,
    /** How long an id whose holder left counts as restarting (the channel's graceMs). */
    private readonly graceMs = 5000,
  ) {
    // Whether an absent id was ever held, and how long ago it left, tell a restart from a
    // wrong id in the verdicts below.
    channel.on('join', (id: number) => {
      this.held.add(id);
      this.leftAt.delete(id);
    });
    channel.on('leave', (id: number) => this.leftAt.set(id, Date.now()));
  }

  report(error: IpcChannelError): void {
    if (this.channel.listenerCount('error') > 0) this.channel.emit('error', error);
    else if (this.log.enabled) this.log.warn(error.message);
    else this.warnUnheard(error);
  }

  /** Reports the failed messages of `event` to `claimant` instead of 'error'. */
  claim(event: string, claimant: (error: DeliveryFailure) => void): void {
    this.claims.set(event, claimant);
  }

  /**
   * Gives the verdict on a frame that will not be confirmed, with its message decoded when it
   * can be. The verdict must be true: "not delivered" (UndeliverableError) only when no process
   * can have read it; when its target may have (`mayHaveBeenRead`), DeliveryUncertainError.
   */
  failed(frame: Buffer, reason: UndeliverableReason, mayHaveBeenRead: boolean): void {
    const target = readTarget(frame);
    let event = 'message';
    let data: unknown;
    try {
      if (frame[OFF_TYPE] === FrameType.Event) {
        const start = HEADER_SIZE + frame.readUInt16LE(OFF_AUX);
        event = frame.toString('utf8', HEADER_SIZE, start);
        data = this.codec.decode(frame.subarray(start));
      } else {
        data = this.codec.decode(frame.subarray(HEADER_SIZE));
      }
    } catch {
      data = undefined;
    }
    const error = mayHaveBeenRead
      ? new DeliveryUncertainError(target, reason, event, data)
      : new UndeliverableError(target, reason, event, data, this.record(target));
    if (this.confirmations.active && this.confirmations.failed(readSeq(frame), error)) return;
    const claimant = this.claims.get(event);
    if (claimant !== undefined) claimant(error);
    else this.report(error);
  }

  /** What this process knows of `target`, which nobody holds (see IdRecord). */
  private record(target: number): IdRecord {
    const left = this.leftAt.get(target);
    const ago = left === undefined ? undefined : Date.now() - left;
    return ago !== undefined && ago < this.graceMs
      ? { everHeld: true, leftMsAgo: ago }
      : { everHeld: this.held.has(target) };
  }

  /**
   * With no 'error' listener and no logger, a lost message would go unnoticed: Node prints a
   * process warning instead, at most one per error code every few seconds.
   */
  private warnUnheard(error: IpcChannelError): void {
    const now = Date.now();
    if ((this.unheardWarnedAt.get(error.code) ?? -Infinity) > now - UNHEARD_WARNING_MS) return;
    this.unheardWarnedAt.set(error.code, now);
    process.emitWarning(
      `${error.message} (listen with channel.on('error') or pass a logger to handle these)`,
      { type: error.name, code: error.code },
    );
  }
}
