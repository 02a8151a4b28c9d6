/** How many names are remembered; a channel carries a handful of event names. */
const REMEMBERED = 16;
/** Longer names are decoded every time: comparing them would cost about as much. */
const LONGEST_REMEMBERED = 64;

/**
 * Reads event names out of frames, remembering the last few: comparing a dozen bytes is cheaper
 * than making the same string again for every event a busy channel reads.
 */
export class EventNames {
  private readonly bytes: Buffer[] = [];
  private readonly texts: string[] = [];
  private next = 0;

  read(frame: Buffer, start: number, end: number): string {
    const length = end - start;
    for (let i = 0; i < this.bytes.length; i++) {
      const known = this.bytes[i]!;
      if (known.length === length && sameBytes(frame, start, known)) return this.texts[i]!;
    }
    const text = frame.toString('utf8', start, end);
    if (length <= LONGEST_REMEMBERED) {
      // A copy: the frame is a view of a read buffer that may be reused.
      const copy = Buffer.from(frame.subarray(start, end));
      if (this.bytes.length < REMEMBERED) {
        this.bytes.push(copy);
        this.texts.push(text);
      } else {
        this.bytes[this.next] = copy;
        this.texts[this.next] = text;
        this.next = (this.next + 1) % REMEMBERED;
      }
    }
    return text;
  }
}

function sameBytes(frame: Buffer, start: number, known: Buffer): boolean {
  for (let i = 0; i < known.length; i++) if (frame[start + i] !== known[i]) return false;
  return true;
}
