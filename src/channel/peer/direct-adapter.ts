import type { DirectLinksOwner } from '../direct/direct-links.js';
import type { PeerInfo } from './membership.js';
import type { OutboxEntry } from './outbox.js';
import { type PeerContext, PeerPart } from './peer-part.js';
import type { Receiver } from './receiver.js';
import type { Sender } from './sender.js';

/**
 * The channel as its direct links see it: who this process and its peers are, where frames read
 * from a link go, and what becomes of the outbox entries a link confirms or gives back.
 */
export class DirectAdapter extends PeerPart implements DirectLinksOwner {
  readonly incarnation: number;

  constructor(
    ctx: PeerContext,
    private readonly sender: Sender,
    private readonly receiver: Receiver,
  ) {
    super(ctx);
    this.incarnation = ctx.state.incarnation;
  }

  get selfId(): number {
    return this.state.selfId;
  }

  peer(id: number): PeerInfo | undefined {
    return this.membership.get(id);
  }

  frames(frames: Buffer[]): void {
    this.receiver.onFrames(frames, false);
  }

  confirmed(entries: OutboxEntry[]): void {
    for (const entry of entries) this.outbox.confirm(entry);
    this.sender.afterSettle();
  }

  unroute(entries: OutboxEntry[], mayHaveRead: boolean): void {
    this.outbox.unroute(entries, mayHaveRead);
    this.sender.scheduleFlush();
  }

  flushSoon(): void {
    this.sender.scheduleFlush();
  }

  ackSoon(): void {
    this.sender.scheduleReceipt();
  }
}
