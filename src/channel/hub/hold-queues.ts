import { Queue } from '../util/queue.js';
import type { DeliveryRecord } from './delivery-record.js';

interface Held {
  readonly record: DeliveryRecord;
  readonly deadline: number;
  /** The latest it may be kept past its deadline while its id's successor is starting. */
  readonly bound: number;
}

/** How often a frame kept past its deadline for a starting successor is looked at again. */
const RECHECK_MS = 250;

/** What is held for one id. */
interface TargetQueue {
  readonly items: Queue<Held>;
  bytes: number;
  /** Fires at the front item's deadline. */
  timer: NodeJS.Timeout | undefined;
}

export interface HoldQueuesOptions {
  /** How long a frame is held before it expires. */
  readonly graceMs: number;
  /**
   * The most frame bytes held for all absent ids together: a frame that does not fit is refused
   * (its sender is nacked), so frames to ids nobody holds cannot grow the hub without bound.
   */
  readonly maxBytes: number;
  /** A frame was held graceMs and nobody took its id. */
  readonly onExpire: (record: DeliveryRecord, target: number) => void;
  /**
   * Whether the process to take `target` next is known to be starting (it has connected and
   * waits for the id): what is held for the id is then kept past graceMs, up to `startingMs`
   * more, rather than failed while its receiver is already there.
   */
  readonly successorStarting?: (target: number) => boolean;
  /** The longest a frame is kept past graceMs for a starting successor. */
  readonly startingMs?: number;
}

/**
 * Frames addressed to a peer id that nobody holds right now: its process is restarting, or it
 * is a survivor still reconnecting after a failover. They wait here, in order, for the grace
 * period; a peer that takes the id receives them before anything newer.
 */
export class HoldQueues {
  private readonly queues = new Map<number, TargetQueue>();
  /** Frame bytes held, for all ids together. */
  private total = 0;

  constructor(private readonly options: HoldQueuesOptions) {}

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
    if (this.total + record.frame.length > this.options.maxBytes) return false;
    let queue = this.queues.get(target);
    if (!record.copied) {
      // The frame is a view of a socket read; a private copy lets that chunk be freed.
      record.frame = Buffer.from(record.frame);
      record.copied = true;
    }
    if (queue === undefined) {
      queue = { items: new Queue(), bytes: 0, timer: undefined };
      this.queues.set(target, queue);
    }
    const deadline = Date.now() + this.options.graceMs;
    const held: Held = { record, deadline, bound: deadline + (this.options.startingMs ?? 0) };
    if (front) queue.items.unshift(held);
    else queue.items.push(held);
    queue.bytes += record.frame.length;
    this.total += record.frame.length;
    if (queue.timer === undefined) this.arm(target, queue);
    return true;
  }

  /** Removes and returns everything held for `target`, oldest first. */
  release(target: number): DeliveryRecord[] {
    const queue = this.queues.get(target);
    if (queue === undefined) return [];
    this.queues.delete(target);
    clearTimeout(queue.timer);
    this.total -= queue.bytes;
    return queue.items.takeAll().map((h) => h.record);
  }

  /** Removes the records held for `target` that `drop` selects, keeping the others in order. */
  remove(target: number, drop: (record: DeliveryRecord) => boolean): DeliveryRecord[] {
    const queue = this.queues.get(target);
    if (queue === undefined) return [];
    const removed = queue.items.removeWhere((held) => drop(held.record)).map((h) => h.record);
    for (const record of removed) {
      queue.bytes -= record.frame.length;
      this.total -= record.frame.length;
    }
    if (queue.items.length === 0) {
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
    this.total = 0;
  }

  /** Frame bytes held, for all ids together. */
  get bytes(): number {
    return this.total;
  }

  /** How many frames are held, for all ids together. */
  get size(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.items.length;
    return n;
  }

  private arm(target: number, queue: TargetQueue, at?: number): void {
    const first = queue.items.peek();
    if (first === undefined) return;
    queue.timer = setTimeout(
      () => this.expire(target, queue),
      Math.max(0, (at ?? first.deadline) - Date.now()),
    );
    queue.timer.unref();
  }

  private expire(target: number, queue: TargetQueue): void {
    queue.timer = undefined;
    const now = Date.now();
    for (let front = queue.items.peek(); front !== undefined && front.deadline <= now;) {
      if (front.bound > now && this.options.successorStarting?.(target) === true) {
        // Frames behind it are younger: keep them all, and look again shortly.
        this.arm(target, queue, Math.min(now + RECHECK_MS, front.bound));
        return;
      }
      queue.items.shift();
      queue.bytes -= front.record.frame.length;
      this.total -= front.record.frame.length;
      this.options.onExpire(front.record, target);
      front = queue.items.peek();
    }
    if (queue.items.length === 0) {
      if (this.queues.get(target) === queue) this.queues.delete(target);
      return;
    }
    this.arm(target, queue);
  }
}
