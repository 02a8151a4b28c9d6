import { randomInt } from 'node:crypto';
import { Hub, type HubOptions } from '../../src/channel/hub/hub.js';
import type { FrameDuplex } from '../../src/channel/io/frame-duplex.js';
import { Log } from '../../src/channel/logger.js';
import {
  FrameType,
  HEADER_SIZE,
  OFF_TYPE,
  PROTOCOL_VERSION,
  countFrame,
  forEachInRanges,
  isDataType,
  jsonFrame,
  readJson,
  writeHeader,
} from '../../src/channel/wire/frame.js';
import type { HubHello, Nack, Welcome } from '../../src/channel/wire/handshake.js';
import { until } from './wait.js';

/** A hub with no endpoint, served only through in-process connections (attachLocal, attachBridge). */
export function makeHub(
  name: string,
  log = new Log(undefined),
  options: Partial<HubOptions> = {},
): Hub {
  return new Hub(undefined, undefined, {
    name,
    codec: 'json',
    secret: undefined,
    maxFrameBytes: 1024 * 1024,
    graceMs: 2000,
    preferredIdWaitMs: 1000,
    maxHeldBytes: 1024 * 1024,
    handshakeTimeoutMs: 5000,
    heartbeatIntervalMs: 1000,
    heartbeatTimeoutMs: 10_000,
    stallTimeoutMs: 10_000,
    expected: [],
    log,
    ...options,
  });
}

/**
 * A peer speaking the wire protocol by hand over an in-process connection to a hub: it joins,
 * numbers what it sends, receipts what it reads at once, and records data frames, notices, acks
 * and nacks, for tests of what the hub and the bridge put on the wire.
 */
export class WirePeer {
  readonly incarnation = randomInt(1, 0xffff_ffff);
  id = 0;
  welcome: Welcome | undefined;
  /** Data frames received, in order (private copies). */
  readonly data: Buffer[] = [];
  /** Control frames received after the Welcome, in order. */
  readonly control: Buffer[] = [];
  readonly acked = new Set<number>();
  readonly nacked = new Map<number, string>();
  private seq = 0;

  constructor(
    private readonly duplex: FrameDuplex,
    private readonly name: string,
  ) {
    duplex.onFrames = (frames) => this.receive(frames);
  }

  /** Waits until joined; returns this peer's id. */
  async joined(): Promise<number> {
    await until(() => this.welcome, 5000, 'Welcome');
    return this.id;
  }

  /** Sends an event with JSON `args` to `target`, with `flags`; returns its seq. */
  emit(target: number, event: string, args: unknown[], flags = 0): number {
    return this.write(eventFrame(target, event, args, flags));
  }

  /** Sends a whole frame, numbering it; returns its seq. */
  write(frame: Buffer): number {
    const seq = ++this.seq;
    writeHeader(
      frame,
      frame[OFF_TYPE]!,
      frame[5]!,
      frame.readUInt16LE(6),
      frame.readUInt16LE(10),
      this.incarnation,
      seq,
    );
    this.duplex.write([frame]);
    return seq;
  }

  /** Data frames received whose type is `type`. */
  ofType(type: FrameType): Buffer[] {
    return this.data.filter((f) => f[OFF_TYPE] === type);
  }

  close(): void {
    this.duplex.destroy();
  }

  private receive(frames: Buffer[]): void {
    let read = 0;
    for (const frame of frames) {
      const type = frame[OFF_TYPE]!;
      if (isDataType(type)) {
        this.data.push(Buffer.from(frame));
        read++;
      } else if (type === FrameType.HubHello) {
        const hello = readJson<HubHello>(frame);
        this.duplex.write([
          jsonFrame(FrameType.Join, {
            protocol: PROTOCOL_VERSION,
            name: this.name,
            codec: hello.codec,
            incarnation: this.incarnation,
            pid: process.pid,
            claim: 0,
            kind: 'none',
            meta: { peer: true },
            nonce: 'n',
          }),
        ]);
      } else if (type === FrameType.Welcome) {
        this.welcome = readJson<Welcome>(frame);
        this.id = this.welcome.id;
      } else if (type === FrameType.Ack) {
        forEachInRanges(frame, (s) => this.acked.add(s));
      } else if (type === FrameType.Nack) {
        const nack = readJson<Nack>(frame);
        for (const s of nack.seqs) this.nacked.set(s, nack.reason);
      } else {
        this.control.push(frame);
      }
    }
    if (read > 0) this.receipted += read;
    if (read > 0) this.duplex.write([countFrame(FrameType.Receipt, this.receipted)]);
  }

  private receipted = 0;
}

/** An Event frame with JSON args (its seq and incarnation are the sender's to write). */
export function eventFrame(target: number, event: string, args: unknown[], flags = 0): Buffer {
  const name = Buffer.from(event);
  const body = Buffer.from(JSON.stringify(args));
  const frame = Buffer.alloc(HEADER_SIZE + name.length + body.length);
  writeHeader(frame, FrameType.Event, flags, target, name.length, 0, 0);
  name.copy(frame, HEADER_SIZE);
  body.copy(frame, HEADER_SIZE + name.length);
  return frame;
}

/** The event name and JSON args of an Event frame. */
export function readEvent(frame: Buffer): { event: string; args: unknown[] } {
  const n = frame.readUInt16LE(10);
  return {
    event: frame.toString('utf8', HEADER_SIZE, HEADER_SIZE + n),
    args: JSON.parse(frame.toString('utf8', HEADER_SIZE + n)) as unknown[],
  };
}
