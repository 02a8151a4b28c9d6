/**
 * A first-in, first-out queue over one array. Taking from the front advances an index instead
 * of moving every element; the consumed prefix is cut off once it is both long and most of the
 * array, so each element is copied a bounded number of times however the queue is used.
 *
 * The outbox, the hub's per-connection pending records, the hold queues and the direct links'
 * unconfirmed frames all use it: one policy for when memory is given back.
 */
export class Queue<T> {
  /** A consumed prefix shorter than this is never cut off: copying would cost more than it frees. */
  static readonly COMPACT_AFTER = 1024;

  private items: T[] = [];
  private head = 0;

  /** How many items are queued. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds an item at the back. */
  push(item: T): void {
    this.items.push(item);
  }

  /** Adds an item at the front (it is taken before everything queued now). */
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  /** The item at the front, without taking it. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** The item `index` places from the front (0 is the front), without taking it. */
  at(index: number): T | undefined {
    const i = this.head + index;
    return index >= 0 && i < this.items.length ? this.items[i] : undefined;
  }

  /** Takes the item at the front. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    // Drop the reference at once: a consumed item must not outlive its use until compaction.
    this.items[this.head] = undefined as T;
    this.head++;
    this.compact();
    return item;
  }

  /** Takes items from the front while `test` holds for the front one; returns them in order. */
  shiftWhile(test: (item: T) => boolean): T[] {
    const taken: T[] = [];
    while (this.head < this.items.length && test(this.items[this.head]!)) {
      taken.push(this.items[this.head]!);
      this.items[this.head] = undefined as T;
      this.head++;
    }
    this.compact();
    return taken;
  }

  /** Takes up to `count` items from the front, in order. */
  take(count: number): T[] {
    const end = Math.min(this.items.length, this.head + Math.max(0, count));
    const taken = this.items.slice(this.head, end);
    for (let i = this.head; i < end; i++) this.items[i] = undefined as T;
    this.head = end;
    this.compact();
    return taken;
  }

  /** Takes every item, in order, leaving the queue empty. */
  takeAll(): T[] {
    const taken = this.head === 0 ? this.items : this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return taken;
  }

  /** The queued items, in order, as a new array (the queue is unchanged). */
  toArray(): T[] {
    return this.items.slice(this.head);
  }

  /** Removes every item for which `test` holds, keeping the others in order; returns the removed. */
  removeWhere(test: (item: T) => boolean): T[] {
    const kept: T[] = [];
    const removed: T[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i]!;
      (test(item) ? removed : kept).push(item);
    }
    if (removed.length > 0) {
      this.items = kept;
      this.head = 0;
    }
    return removed;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= Queue.COMPACT_AFTER && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
