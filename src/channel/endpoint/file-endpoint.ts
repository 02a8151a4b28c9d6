import { createHash } from 'node:crypto';
import { linkSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../util/liveness.js';
import { ElectionError, EndpointUnavailableError, isUnwritable } from '../errors.js';
import { unlinkQuietly } from '../util/files.js';
import { DirectoryPin } from './directory-guard.js';

/**
 * What the Unix-socket and loopback-TCP endpoints share: files in the private directory.
 * - `<base>.<ext>`: the public name (the socket, or the tcp endpoint file);
 * - `<base>.<pid>.hub`: the hub's private name, hard-linked to the public one to publish it;
 * - `<base>.lock`: the election lock, and its drafts `<base>.lock.<pid>.<hex>`.
 */
export abstract class FileEndpoint {
  readonly path: string;
  readonly lockPath: string;
  private readonly pin: DirectoryPin;

  constructor(
    readonly name: string,
    readonly dir: string,
    protected readonly base: string,
    extension: string,
  ) {
    this.path = join(dir, `${base}.${extension}`);
    this.lockPath = join(dir, `${base}.lock`);
    this.pin = new DirectoryPin(dir);
  }

  verifyDirectory(): void {
    this.pin.verify();
  }

  /** A second name for the hub's file, private to the hub process. */
  hubPath(pid: number): string {
    return join(this.dir, `${this.base}.${pid}.hub`);
  }

  /**
   * Publishes `hubPath` under the public name. `link` fails with EEXIST if anyone published
   * first, so two hubs are never published, and a live hub's file is never unlinked: a stale
   * one is removed only when the caller, holding the lock, found its hub dead. Returns false
   * if someone else won.
   */
  protected publish(hubPath: string, replaceStale: boolean): boolean {
    try {
      if (replaceStale) {
        unlinkQuietly(this.path);
        this.removeDebris();
      }
      linkSync(hubPath, this.path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw this.failure('cannot publish the hub', e);
    }
  }

  /** The typed error for a file-system failure while hosting. */
  protected failure(what: string, cause: unknown): Error {
    return isUnwritable(cause)
      ? new EndpointUnavailableError(this.dir, what, cause)
      : new ElectionError(this.path, cause);
  }

  /**
   * Files that crashed processes leave beside the public one: private hub names and lock
   * drafts. A private name is removed when its pid is dead; a draft (which lives for a moment
   * while a lock is taken) when it is older than any election takes, since its pid may be of
   * another PID namespace, where it says nothing.
   */
  private removeDebris(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    const dying: [string, number][] = [];
    for (const name of names) {
      if (!name.startsWith(this.base)) continue;
      const match = /^\.(lock\.)?(\d+)(?:\.hub|\.[0-9a-f]+)$/.exec(name.slice(this.base.length));
      if (match === null) continue;
      const path = join(this.dir, name);
      const pid = Number(match[2]);
      if (match[1] !== undefined) {
        if (olderThan(path, DRAFT_STALE_MS)) unlinkQuietly(path);
      } else if (pid !== process.pid) {
        if (isAlive(pid)) dying.push([path, pid]);
        else unlinkQuietly(path);
      }
    }
    if (dying.length > 0) recheckDying(dying, DYING_RECHECKS);
  }
}

/**
 * A hub killed a moment ago closes its sockets before the kernel marks it dead, and under load
 * it may be looked at in between: its private name is looked at again a little later, a few
 * times, and removed once its pid is dead (a live process keeps its own).
 */
const DYING_RECHECK_MS = 1000;
const DYING_RECHECKS = 3;

function recheckDying(files: [path: string, pid: number][], left: number): void {
  setTimeout(() => {
    const still: [string, number][] = [];
    for (const [path, pid] of files) {
      if (isAlive(pid)) still.push([path, pid]);
      else unlinkQuietly(path);
    }
    if (still.length > 0 && left > 1) recheckDying(still, left - 1);
  }, DYING_RECHECK_MS).unref();
}

/** A lock draft this old was left by a process that died while taking the lock. */
const DRAFT_STALE_MS = 3000;

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

/** A readable file-name stem for a channel: the tail of its name and a hash of all of it. */
export function channelStem(name: string): { slug: string; hash: string } {
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 16);
  const slug = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(-24)
    .replace(/^[-.]+/, '');
  return { slug, hash };
}
