import { DecodeError } from '../errors.js';
import { decodeJsonAt, jsonCodec } from '../wire/codec.js';
import { type FederatedFrame, readFederated } from '../wire/federated.js';
import type { PeerId } from '../channel-target.js';
import {
  BRIDGE_ID,
  FrameType,
  HEADER_SIZE,
  OFF_AUX,
  OFF_INC,
  OFF_SENDER,
  OFF_TYPE,
  readSeq,
} from '../wire/frame.js';
import { Dedup } from './dedup.js';
import { RESERVED_EVENTS } from './event-name-encoder.js';
import { EventNames } from './event-names.js';
import type { HubControl } from './hub-control.js';
import { type PeerContext, PeerPart } from './peer-part.js';
import { HOSTS_EVENT, type RemoteMembership } from './remote-membership.js';
import type { Sender } from './sender.js';

/** Reads a layer above handles itself: the arguments of each received event, as one array. */
export type EventReader = (sender: PeerId, args: unknown[]) => void;

/** Origin hosts whose streams are remembered for deduplication. */
const MAX_ORIGIN_HOSTS = 1024;

/**
 * Everything that reaches this process: frames from the hub and from direct links. Data frames
 * are deduplicated, decoded and handed to the channel's listeners (or a reader, see read);
 * control frames go to HubControl, in the order they came.
 */
export class Receiver extends PeerPart {
  /** Events a layer above reads itself (see read). */
  private readonly readers = new Map<string, EventReader>();
  private readonly names = new EventNames();
  /**
   * Drops copies of frames from other hosts, per origin host: a bridge that took over reads
   * again what its predecessor had not acknowledged. The outer header is the bridge's own.
   */
  private readonly origins = new Map<string, Dedup>();

  constructor(
    ctx: PeerContext,
    private readonly dedup: Dedup,
    private readonly sender: Sender,
    private readonly control: HubControl,
    private readonly remote: RemoteMembership,
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
          this.dispatch(type, frame, 0, frame.readUInt16LE(OFF_SENDER));
        } catch (e) {
          thrown ??= { e };
        }
        continue;
      }
      if (type === FrameType.Federated) {
        if (fromHub) this.sender.received++;
        data++;
        // Only the bridge speaks for other hosts: the hub stamps who sent each frame.
        if (!fromHub || frame.readUInt16LE(OFF_SENDER) !== BRIDGE_ID) continue;
        try {
          this.federated(frame);
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

  /** A frame from a peer on another host, through the bridge: its inner frame is dispatched. */
  private federated(frame: Buffer): void {
    let origin: FederatedFrame;
    try {
      origin = readFederated(frame);
    } catch (e) {
      this.log.warn(`dropped a frame from another host (through the bridge): ${String(e)}`);
      return;
    }
    let dedup = this.origins.get(origin.host);
    if (dedup === undefined) {
      if (this.origins.size >= MAX_ORIGIN_HOSTS) {
        this.origins.delete(this.origins.keys().next().value!);
      }
      dedup = new Dedup();
      this.origins.set(origin.host, dedup);
    }
    if (!dedup.accept(origin.incarnation, origin.seq)) return;
    this.state.counters.received(frame.length);
    const inner = origin.inner;
    this.dispatch(inner[OFF_TYPE]!, inner, 0, `${origin.host}/${origin.peer}`);
  }

  /** Hands a data frame (at `at` in `frame`) from `sender` to its listeners. */
  private dispatch(type: number, frame: Buffer, at: number, sender: PeerId): void {
    if (sender === BRIDGE_ID) {
      this.bridgeEvent(type, frame);
      return;
    }
    if (type === FrameType.Message) {
      let message: unknown;
      try {
        message = this.decodeAt(frame, at + HEADER_SIZE);
      } catch (e) {
        this.errors.report(new DecodeError(this.codec.name, sender, e));
        return;
      }
      this.channel.emit('message', sender, message);
      return;
    }
    const nameBytes = frame.readUInt16LE(at + OFF_AUX);
    const start = at + HEADER_SIZE + nameBytes;
    let args: unknown;
    try {
      if (start > frame.length) throw new RangeError('event name runs past the frame');
      args = this.decodeAt(frame, start);
      if (!Array.isArray(args)) throw new TypeError('event arguments are not an array');
    } catch (e) {
      this.errors.report(new DecodeError(this.codec.name, sender, e));
      return;
    }
    const event = this.names.read(frame, at + HEADER_SIZE, start);
    if (RESERVED_EVENTS.has(event)) return;
    const reader = this.readers.get(event);
    if (reader !== undefined) reader(sender, args as unknown[]);
    else this.channel.emit(event, sender, ...(args as unknown[]));
  }

  /**
   * An event of the bridge to this host's peers: the hosts view (always JSON, whatever the
   * channel's codec). It updates the remote membership and reaches no listener.
   */
  private bridgeEvent(type: number, frame: Buffer): void {
    if (type !== FrameType.Event) return;
    const start = HEADER_SIZE + frame.readUInt16LE(OFF_AUX);
    if (start > frame.length || this.names.read(frame, HEADER_SIZE, start) !== HOSTS_EVENT) return;
    let args: unknown;
    try {
      args = decodeJsonAt(frame, start);
    } catch (e) {
      this.log.warn(`dropped a hosts view the bridge sent that is not JSON: ${String(e)}`);
      return;
    }
    if (Array.isArray(args)) this.remote.apply(args[0], this.options.host);
  }

  private decodeAt(frame: Buffer, start: number): unknown {
    return this.codec === jsonCodec
      ? decodeJsonAt(frame, start)
      : this.codec.decode(frame.subarray(start));
  }
}
