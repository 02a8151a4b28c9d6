import type { EventEmitter } from 'node:events';
import { type IpcChannelError, UndeliverableError, type UndeliverableReason } from '../errors.js';
import type { Log } from '../logger.js';
import type { Codec } from '../wire/codec.js';
import { FrameType, HEADER_SIZE, OFF_AUX, OFF_TYPE, readTarget } from '../wire/frame.js';

/** Errors nobody listens to are printed at most once per code in this long. */
const UNHEARD_WARNING_MS = 5000;

/**
 * Where a channel's errors go: to its 'error' listeners, else to the logger, else to a process
 * warning, so that a lost message is never silent. It also gives the verdict on each message
 * that was not delivered, and hands it to the layer above that claimed the message's event.
 */
export class ErrorReporter {
  /** Who answers for the undelivered messages of an event (see claim). */
  private readonly claims = new Map<string, (error: UndeliverableError) => void>();
  /** When each error code was last printed as a process warning (see warnUnheard). */
  private readonly unheardWarnedAt = new Map<string, number>();

  constructor(
    private readonly channel: EventEmitter,
    private readonly log: Log,
    private readonly codec: Codec,
  ) {}

  report(error: IpcChannelError): void {
    if (this.channel.listenerCount('error') > 0) this.channel.emit('error', error);
    else if (this.log.enabled) this.log.warn(error.message);
    else this.warnUnheard(error);
  }

  /** Reports the undelivered messages of `event` to `claimant` instead of 'error'. */
  claim(event: string, claimant: (error: UndeliverableError) => void): void {
    this.claims.set(event, claimant);
  }

  /**
   * The hub gave up on a frame. `resent`: a hub that went away without a handover had it, so
   * its target may have read it before that hub died.
   */
  nacked(frame: Buffer, reason: UndeliverableReason, resent: boolean): void {
    // The new hub finds no holder; the one that died may have handed it over first, to a
    // process that died with it. "Absent" would promise it never ran.
    this.undeliverable(frame, resent && reason === 'peer-absent' ? 'peer-left' : reason);
  }

  /** Reports a frame that was not delivered, with its message decoded when it can be. */
  undeliverable(frame: Buffer, reason: UndeliverableReason): void {
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
    const error = new UndeliverableError(target, reason, event, data);
    const claimant = this.claims.get(event);
    if (claimant !== undefined) claimant(error);
    else this.report(error);
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
