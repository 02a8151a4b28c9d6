/**
 * The framing of the raw Unix-socket reference: a 4-byte big-endian length, then JSON. It is
 * the least a hand-rolled protocol can do, which is what makes it the physical reference.
 */

/** Refuses absurd lengths, so a framing bug fails the trial instead of waiting forever. */
const MAX_FRAME = 16 * 1024 * 1024;

export function encodeFrame(value: unknown): Buffer {
  const json = JSON.stringify(value);
  const length = Buffer.byteLength(json);
  const frame = Buffer.allocUnsafe(4 + length);
  frame.writeUInt32BE(length, 0);
  frame.write(json, 4, 'utf8');
  return frame;
}

/** Splits a byte stream into frame bodies. Copies only when a frame straddles two reads. */
export class FrameReader {
  private rest: Buffer | undefined;

  constructor(private readonly onFrame: (body: Buffer) => void) {}

  push(chunk: Buffer): void {
    const data = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset);
      if (length > MAX_FRAME) throw new Error(`raw frame of ${length} bytes: stream corrupted`);
      const end = offset + 4 + length;
      if (end > data.length) break;
      this.onFrame(data.subarray(offset + 4, end));
      offset = end;
    }
    this.rest = offset < data.length ? data.subarray(offset) : undefined;
  }
}
