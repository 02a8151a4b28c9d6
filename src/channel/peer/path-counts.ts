import { MAX_PEER_ID } from '../wire/frame.js';

/**
 * Unconfirmed frames per path (the hub, or direct links) and receiver: what keeps each receiver's
 * frames in sequence order across two paths. While any frame a peer will receive is on the hub
 * path, nothing for it may take a direct link: the direct one could arrive first, and the
 * receiver drops a frame whose sequence is below one it already took. The mirror rule holds for
 * frames on direct links.
 */
export class PathCounts {
  /** Frames on the hub path per unicast target. */
  private readonly hubBound = new Map<number, number>();
  /** Broadcasts on the hub path: every peer receives them. */
  private hubWide = 0;
  /** Frames on direct links per peer. */
  private readonly directBound = new Map<number, number>();
  private directCount = 0;

  /** Frames on direct links, in all. */
  get direct(): number {
    return this.directCount;
  }

  /** Whether a unicast to `target` may take a direct link. */
  directAllowed(target: number): boolean {
    return this.hubWide === 0 && !this.hubBound.has(target);
  }

  /** Whether a frame for the hub must wait until direct links confirm what they carry. */
  hubBlocked(target: number, unicast: boolean): boolean {
    return this.directCount > 0 && (!unicast || this.directBound.has(target));
  }

  /** A frame for `target` took the hub path, or (`direct`) the direct link to it. */
  add(target: number, direct: boolean): void {
    if (direct) {
      this.directBound.set(target, (this.directBound.get(target) ?? 0) + 1);
      this.directCount++;
    } else if (target >= 1 && target <= MAX_PEER_ID) {
      this.hubBound.set(target, (this.hubBound.get(target) ?? 0) + 1);
    } else {
      this.hubWide++;
    }
  }

  /** A frame left its path: it was confirmed or given up on, or goes back to the queue. */
  remove(target: number, direct: boolean): void {
    let counts = this.hubBound;
    if (direct) {
      counts = this.directBound;
      this.directCount--;
    } else if (target < 1 || target > MAX_PEER_ID) {
      this.hubWide--;
      return;
    }
    const n = counts.get(target)! - 1;
    if (n === 0) counts.delete(target);
    else counts.set(target, n);
  }

  /** The hub is gone, and with it every frame on its path (they are queued again). */
  clearHub(): void {
    this.hubBound.clear();
    this.hubWide = 0;
  }

  clear(): void {
    this.clearHub();
    this.directBound.clear();
    this.directCount = 0;
  }
}
