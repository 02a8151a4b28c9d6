import { lstatSync } from 'node:fs';
import { Ticker } from '../util/ticker.js';

/** What a HubWatch asks of the link it watches. */
export interface HubWatchOwner {
  /** Nothing was written to the hub for an interval: write a heartbeat (if joined). */
  heartbeat(): void;
  /** Nothing arrived from the hub for `silentMs`: drop the connection and elect another hub. */
  depose(silentMs: number): void;
}

/**
 * A peer's side of the heartbeat with a hub in another process. Once per interval it sends a
 * heartbeat if nothing else went to the hub, and deposes the hub if nothing at all came from it
 * for the timeout (its process is stopped or its event loop blocked; the kernel still accepts
 * connections for it, so connecting proves nothing).
 *
 * A deposed hub is known by its public file (device and inode, read when the connection
 * opened): while the public name is still that file, the election treats it as stale, as it
 * would a dead hub's, and replaces it. The deposed hub finds it replaced when it runs again.
 */
export class HubWatch {
  /** Something arrived from the hub since the last tick. */
  heard = false;
  /** Something was written to the hub since the last tick. */
  spoke = false;
  private silentSince = 0;
  private ticker: Ticker | undefined;
  /** The public file of the hub this link is connected to, if the endpoint is a file. */
  private hubFile: string | undefined;
  /** The public file of the hub this process deposed, until an election has got past it. */
  private deposedFile: string | undefined;

  constructor(
    /** The endpoint's public name. */
    private readonly path: string,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly owner: HubWatchOwner,
  ) {}

  /**
   * A connection to a hub in another process opened. `file`: the endpoint is a file whose
   * identity tells hubs apart. Read right after connecting: a file replaced in between would
   * belong to a hub that replaced ours, which steps down by itself unless it too is stopped.
   */
  start(file: boolean): void {
    this.stop();
    this.hubFile = file ? fileIdentity(this.path) : undefined;
    this.heard = false;
    this.spoke = false;
    this.silentSince = Date.now();
    this.ticker = new Ticker(this.intervalMs, (now, resumed) => this.tick(now, resumed));
  }

  /** The connection is gone, or the link closes. */
  stop(): void {
    this.ticker?.stop();
    this.ticker = undefined;
  }

  /**
   * For the election: whether the public name is still the file of the hub this process
   * deposed. One lstat, only in the election that follows a deposition.
   */
  readonly isDeposed = (): boolean =>
    this.deposedFile !== undefined && fileIdentity(this.path) === this.deposedFile;

  /** An election found or became a hub: the deposed one is behind us. */
  elected(): void {
    this.deposedFile = undefined;
  }

  private tick(now: number, resumed: boolean): void {
    if (!this.spoke) this.owner.heartbeat();
    this.spoke = false;
    if (this.heard || resumed) {
      this.heard = false;
      this.silentSince = now;
      return;
    }
    const silentMs = now - this.silentSince;
    if (silentMs < this.timeoutMs) return;
    this.stop();
    this.deposedFile = this.hubFile;
    this.owner.depose(silentMs);
  }
}

/** A file's identity (device and inode), or undefined if it does not exist. */
function fileIdentity(path: string): string | undefined {
  try {
    const st = lstatSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}
