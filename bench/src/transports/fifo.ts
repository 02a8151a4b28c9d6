/**
 * Pending requests on an ordered pipe whose server answers in order (raw socket, child_process
 * IPC): the n-th response belongs to the n-th request, so no id has to travel. An array with
 * a moving head, because shift() on a long array is linear.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T {
    if (this.head >= this.items.length)
      throw new Error('a response arrived with no request pending');
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
