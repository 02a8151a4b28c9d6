import { ProtocolError, type UndeliverableReason } from '../errors.js';
import { FrameType, controlFrame, forEachInRanges, readJson } from '../wire/frame.js';
import type {
  EpochNotice,
  Fault,
  Handover,
  Nack,
  PeerLeave,
  PeerMetaUpdate,
  PeerRecord,
} from '../wire/handshake.js';
import type { Leadership } from './leadership.js';
import { type PeerContext, PeerPart } from './peer-part.js';
import type { Presence } from './presence.js';
import type { Sender } from './sender.js';

/**
 * What the hub tells this process besides data: the fate of what it sent (acked, held, nacked),
 * who joins, leaves, retires or changes meta, a handover or a goodbye, the confirmation of its
 * own retirement, a new epoch, and faults.
 */
export class HubControl extends PeerPart {
  /** Per sequence of an Ack / Held frame's ranges (functions made once). */
  private readonly ack = (seq: number): void => {
    this.outbox.ack(seq);
  };
  private readonly hold = (seq: number): void => {
    this.outbox.held(seq);
  };
  private readonly unconfirm = (seq: number): void => {
    this.outbox.unconfirmed(seq);
  };

  constructor(
    ctx: PeerContext,
    private readonly sender: Sender,
    private readonly presence: Presence,
    private readonly leadership: Leadership,
  ) {
    super(ctx);
  }

  handle(type: number, frame: Buffer): void {
    switch (type) {
      case FrameType.Ack:
        forEachInRanges(frame, this.ack);
        this.sender.afterSettle();
        break;
      case FrameType.Held:
        forEachInRanges(frame, this.hold);
        this.sender.afterHeld();
        break;
      case FrameType.Unconfirmed:
        forEachInRanges(frame, this.unconfirm);
        break;
      case FrameType.Nack: {
        const nack = readJson<Nack>(frame);
        const reason = nack.reason as UndeliverableReason;
        for (const seq of nack.seqs) {
          const lost = this.outbox.nack(seq);
          if (lost !== undefined) this.errors.failed(lost.frame, reason, lost.mayHaveBeenRead);
        }
        this.sender.afterSettle();
        break;
      }
      case FrameType.PeerJoin:
        this.presence.peerJoined(readJson<PeerRecord & { hub?: boolean }>(frame));
        break;
      case FrameType.PeerLeave:
        this.presence.peerLeft(readJson<PeerLeave>(frame));
        break;
      case FrameType.PeerMeta:
        this.presence.peerMeta(readJson<PeerMetaUpdate>(frame));
        break;
      case FrameType.PeerRetire:
        this.presence.peerRetiring(readJson<{ id: number; incarnation: number }>(frame));
        break;
      case FrameType.Handover:
        this.hubLink.noteHandover(readJson<Handover>(frame).successor);
        // Answer with the last receipt, so the hub can ack what was read before it goes.
        this.sender.flush();
        this.hubLink.write([controlFrame(FrameType.HandoverDone)]);
        break;
      case FrameType.Bye:
        this.hubLink.noteBye();
        break;
      case FrameType.Retired:
        // Everything read so far was sent before the hub saw the retirement; from here on only
        // answers to this process's own requests arrive. A hub taking over must not count those
        // as consumed frames of the streams whose rest waits for the successor.
        this.state.consumedAtRetire ??= this.presence.consumedMarks();
        this.state.retireWaiter?.();
        break;
      case FrameType.Epoch:
        this.leadership.raiseEpoch(readJson<EpochNotice>(frame).epoch);
        break;
      case FrameType.Fault: {
        const fault = readJson<Fault>(frame);
        this.errors.report(
          new ProtocolError(fault.code, `The hub closed this connection: ${fault.message}`),
        );
        break;
      }
      default:
        break;
    }
  }
}
