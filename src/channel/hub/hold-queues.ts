import type { DeliveryRecord } from './hub-connection.js';

interface Held {
  readonly record: DeliveryRecord;
  readonly deadline: number;
}

interface Queue {
  items: Held[];
  head: number;
  bytes: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Frames addressed to a peer id that nobody holds right now: its process is restarting, or it
 * is a survivor still reconnecting after a failover. They wait here, in order, for the grace
 * period; a peer that takes the id receives them before anything newer.
 */
export class HoldQueues {
  private readonly queues = new Map<number, Queue>();

  constructor(
    private readonly graceMs: number,
    private readonly maxBytesPerTarget: number,
    private readonly onExpire: (record: DeliveryRecord, target: number) => void,
  ) {}

  /** Holds a frame for `target` behind those already held; false when the queue is full. */
  hold(target: number, record: DeliveryRecord): boolean {
    return this.add(target, record, false);
  }

  /**
   * Holds a frame ahead of those already held: frames a departed peer never read are older than
   * anything held for its id since it left.
   */
  holdFront(target: number, record: DeliveryRecord): boolean {
    return this.add(target, record, true);
  }

  private add(target: number, record: DeliveryRecord, front: boolean): boolean {
    let queue = this.queues.get(target);
    if (queue === undefined) {
      queue = { items: [], head: 0, bytes: 0, timer: undefined };
      this.queues.set(target, queue);
    }
    if (queue.bytes + record.frame.length > this.maxBytesPerTarget) return false;
    if (!record.copied) {
      // The frame is a view of a socket read; a private copy lets that chunk be freed.
      record.frame = Buffer.from(record.frame);
      record.copied = true;
    }
    const held = { record, deadline: Date.now() + this.graceMs };
    if (!front) queue.items.push(held);
    else if (queue.head > 0) queue.items[--queue.head] = held;
    else queue.items.unshift(held);
    queue.bytes += record.frame.length;
    if (queue.timer === undefined) this.arm(target, queue);
    return true;
  }

  /** Removes and returns everything held for `target`, oldest first. */
  release(target: number): DeliveryRecord[] {
    const queue = this.queues.get(target);
    if (queue === undefined) return [];
    this.queues.delete(target);
    clearTimeout(queue.timer);
    return queue.items.slice(queue.head).map((h) => h.record);
  }

  /** Removes the records held for `target` that `drop` selects, keeping the others in order. */
  remove(target: number, drop: (record: DeliveryRecord) => boolean): DeliveryRecord[] {
    const queue = this.queues.get(target);
    if (queue === undefined) return [];
    const removed: DeliveryRecord[] = [];
    const kept: { record: DeliveryRecord; deadline: number }[] = [];
    for (let i = queue.head; i < queue.items.length; i++) {
      const held = queue.items[i]!;
      if (drop(held.record)) {
        removed.push(held.record);
        queue.bytes -= held.record.frame.length;
      } else {
        kept.push(held);
      }
    }
    queue.items = kept;
    queue.head = 0;
    if (kept.length === 0) {
      clearTimeout(queue.timer);
      this.queues.delete(target);
    }
    return removed;
  }

  /** The ids something is held for (a copy: callers may remove while they iterate). */
  targets(): number[] {
    return [...this.queues.keys()];
  }

  /** Forgets every queue (the hub is closing; senders still hold their copies). */
  clear(): void {
    for (const queue of this.queues.values()) clearTimeout(queue.timer);
    this.queues.clear();
  }

  get size(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.items.length - q.head;
    return n;
  }

  private arm(target: number, queue: Queue): void {
    const first = queue.items[queue.head];
    if (first === undefined) return;
    queue.timer = setTimeout(
      () => this.expire(target, queue),
      Math.max(0, first.deadline - Date.now()),
    );
    queue.timer.unref();
  }

  private expire(target: number, queue: Queue): void {
    queue.timer = undefined;
    const now = Date.now();
    while (queue.head < queue.items.length && queue.items[queue.head]!.deadline <= now) {
      const { record } = queue.items[queue.head++]!;
      queue.bytes -= record.frame.length;
      this.onExpire(record, target);
    }
    if (queue.head === queue.items.length) {
      if (this.queues.get(target) === queue) this.queues.delete(target);
      return;
    }
    if (queue.head > 1024) {
      queue.items = queue.items.slice(queue.head);
      queue.head = 0;
    }
    this.arm(target, queue);
  }
}
