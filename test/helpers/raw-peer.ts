import { spawnSync } from 'node:child_process';
import type { Socket } from 'node:net';
import { FrameDecoder } from '../../src/channel/wire/frame-decoder.js';
import {
  FrameType,
  OFF_TYPE,
  PROTOCOL_VERSION,
  jsonFrame,
  readJson,
} from '../../src/channel/wire/frame.js';
import type { HubHello, PeerRecord } from '../../src/channel/wire/handshake.js';
import { openHubSocket } from './endpoint.js';
import { until } from './wait.js';

/**
 * The pid a raw peer announces: one that has exited. Its socket is its whole life, so when it
 * closes, the hub sees a process that is gone (the test runner's own pid would live on, and the
 * hub would keep the peer's id for it for graceMs).
 */
export const EXITED_PID = spawnSync('true').pid;

/** What a raw peer's Welcome holds. */
export interface RawWelcome {
  id: number;
  epoch: number;
  peers: PeerRecord[];
}

/**
 * A raw client of a live hub, for tests that speak the wire protocol by hand: it connects as a
 * peer would (under tcp, past the token proof) and keeps every frame the hub sends it, until the
 * hub closes the connection.
 */
export class RawPeer {
  readonly frames: Buffer[] = [];
  readonly ended: Promise<void>;
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);

  static async open(name: string, dir: string): Promise<RawPeer> {
    return new RawPeer(name, await openHubSocket(name, dir));
  }

  protected constructor(
    readonly name: string,
    readonly socket: Socket,
  ) {
    socket.on('data', (chunk: Buffer) => this.frames.push(...this.decoder.push(chunk)));
    socket.on('error', () => {});
    this.ended = new Promise((resolve) => socket.on('close', () => resolve()));
  }

  ofType(type: FrameType): Buffer | undefined {
    return this.frames.find((f) => f[OFF_TYPE] === type);
  }

  /**
   * Waits for the hub's first frame, which must be its HubHello, and returns it (the hub adds
   * its frame limit to the handshake fields).
   */
  async hello(): Promise<HubHello & { maxFrameBytes: number }> {
    await until(() => this.frames.length > 0, undefined, 'HubHello');
    expect(this.frames[0]![OFF_TYPE]).toBe(FrameType.HubHello);
    return readJson(this.frames[0]!);
  }

  /**
   * Sends a Join as a peer with no id of its own would, for this channel and the JSON codec;
   * `fields` replace or add to its fields.
   */
  join(fields: { incarnation: number } & Record<string, unknown>): void {
    this.socket.write(
      jsonFrame(FrameType.Join, {
        protocol: PROTOCOL_VERSION,
        name: this.name,
        codec: 'json',
        pid: EXITED_PID,
        claim: 0,
        kind: 'none',
        meta: null,
        nonce: 'n',
        ...fields,
      }),
    );
  }

  /** Waits for the hub's Welcome and returns it. */
  async welcome(): Promise<RawWelcome> {
    await until(() => this.ofType(FrameType.Welcome), undefined, 'Welcome');
    return readJson(this.ofType(FrameType.Welcome)!);
  }

  async close(): Promise<void> {
    this.socket.destroy();
    await this.ended;
  }
}
