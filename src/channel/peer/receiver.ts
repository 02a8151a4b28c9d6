import { DecodeError } from '../errors.js';
import { decodeJsonAt, jsonCodec } from '../wire/codec.js';
import {
  FrameType,
  HEADER_SIZE,
  OFF_AUX,
  OFF_INC,
  OFF_SENDER,
  OFF_TYPE,
  readSeq,
} from '../wire/frame.js';
import type { Dedup } from './dedup.js';
import { RESERVED_EVENTS } from './event-name-encoder.js';
import { EventNames } from './event-names.js';
import type { HubControl } from './hub-control.js';
import { type PeerContext, PeerPart } from './peer-part.js';
import type { Sender } from './sender.js';

/** Reads a layer above handles itself: the arguments of each received event, as one array. */
export type EventReader = (sender: number, args: unknown[]) => void;

/**
 * Everything that reaches this process: frames from the hub and from direct links. Data frames
 * are deduplicated, decoded and handed to the channel's listeners (or a reader, see read);
 * control frames go to HubControl, in the order they came.
 */
export class Receiver extends PeerPart {
  /** Events a layer above reads itself (see read). */
  private readonly readers = new Map<string, EventReader>();
  private readonly names = new EventNames();

  constructor(
    ctx: PeerContext,
    private readonly dedup: Dedup,
    private readonly sender: Sender,
    private readonly control: HubControl,
  ) {
    super(ctx);
  }

  /** Hands every received `event` to `reader` instead of emitting it. */
  read(event: string, reader: EventReader): void {
    this.readers.set(event, reader);
  }

  /** Frames from the hub (`fromHub`), or data frames from a peer's direct link. */
  onFrames(frames: Buffer[], fromHub: boolean): void {
    let data = 0;
    let thrown: { e: unknown } | undefined;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i]!;
      const type = frame[OFF_TYPE]!;
      if (type === FrameType.Message || type === FrameType.Event) {
        // Counted as it is read: a control frame later in this batch (Handover) may send a
        // receipt right away, and it must cover these.
        if (fromHub) this.sender.received++;
        data++;
        if (!this.dedup.accept(frame.readUInt32LE(OFF_INC), readSeq(frame))) continue;
        this.state.counters.received(frame.length);
        try {
          this.dispatch(type, frame);
        } catch (e) {
          thrown ??= { e };
        }
        continue;
      }
      this.control.handle(type, frame);
    }
    if (data > 0 && fromHub) this.sender.scheduleReceipt();
    if (thrown !== undefined) {
      // A listener threw: that is the application's exception, not ours to swallow. It surfaces
      // as it would from any EventEmitter, after the channel's own bookkeeping is consistent.
      const { e } = thrown;
      process.nextTick(() => {
        throw e;
      });
    }
  }

  private dispatch(type: number, frame: Buffer): void {
    const sender = frame.readUInt16LE(OFF_SENDER);
    if (type === FrameType.Message) {
      let message: unknown;
      try {
        message = this.decodeAt(frame, HEADER_SIZE);
      } catch (e) {
        this.errors.report(new DecodeError(this.codec.name, sender, e));
        return;
      }
      this.channel.emit('message', sender, message);
      return;
    }
    const nameBytes = frame.readUInt16LE(OFF_AUX);
    const start = HEADER_SIZE + nameBytes;
    let args: unknown;
    try {
      if (start > frame.length) throw new RangeError('event name runs past the frame');
      args = this.decodeAt(frame, start);
      if (!Array.isArray(args)) throw new TypeError('event arguments are not an array');
    } catch (e) {
      this.errors.report(new DecodeError(this.codec.name, sender, e));
      return;
    }
    const event = this.names.read(frame, HEADER_SIZE, start);
    if (RESERVED_EVENTS.has(event)) return;
    const reader = this.readers.get(event);
    if (reader !== undefined) reader(sender, args as unknown[]);
    else this.channel.emit(event, sender, ...(args as unknown[]));
  }

  private decodeAt(frame: Buffer, start: number): unknown {
    return this.codec === jsonCodec
      ? decodeJsonAt(frame, start)
      : this.codec.decode(frame.subarray(start));
  }
}
