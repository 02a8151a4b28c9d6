import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EndpointUnavailableError, isUnwritable } from '../errors.js';
import { unlinkQuietly } from '../util/files.js';
import { isAlive, pidNamespace } from '../util/liveness.js';

/** Who holds a lock, as its file says. */
export interface LockHolder {
  /** NaN when the file names no pid. */
  readonly pid: number;
  /** The PID namespace of `pid` (absent in a lock written by an older version). */
  readonly pidNs: string | undefined;
  /** When the file was last written (its mtime). */
  readonly refreshedAt: number;
  /** The file's whole content: two holders with the same pid in two namespaces differ here. */
  readonly text: string;
}

/**
 * A lock held only while one process replaces a stale socket file, so two processes that both
 * found the hub dead never both unlink and bind. The file holds the holder's pid and PID
 * namespace. It is a lease: one older than any election could take (STALE_MS) may be broken
 * whoever holds it, so a holder in another PID namespace (whose pid says nothing here) delays
 * the others by STALE_MS at most; a holder of this namespace that is dead frees it at once.
 */
export class ElectionLock {
  /** Elections hold the lock for milliseconds; one this old belongs to a stuck or reused pid. */
  static readonly STALE_MS = 3000;

  private held = false;
  /** The live holder that made the last tryAcquire() fail, if one did. */
  blockedBy: LockHolder | undefined;
  /** A process that exits while holding the lock (process.exit mid-election) still frees it. */
  private readonly onExit = () => this.release();

  constructor(private readonly path: string) {}

  /**
   * Takes the lock if it is free (or stale); never waits. A directory this user cannot write
   * fails with EndpointUnavailableError, which retrying would not cure.
   */
  tryAcquire(): boolean {
    try {
      return this.acquire();
    } catch (e) {
      if (isUnwritable(e))
        throw new EndpointUnavailableError(
          dirname(this.path),
          'cannot create the election lock',
          e,
        );
      throw e;
    }
  }

  private acquire(): boolean {
    this.blockedBy = undefined;
    if (this.create()) return true;
    const holder = this.read(this.path);
    if (holder === undefined) return this.create(); // released meanwhile
    const fresh = Date.now() - holder.refreshedAt < ElectionLock.STALE_MS;
    if (fresh && isAlive(holder.pid, holder.pidNs)) {
      this.blockedBy = holder;
      return false;
    }

    // Break it by moving it aside first: rename is atomic, so of several breakers only one gets
    // the file; the others see ENOENT and wait for the next round.
    const aside = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      renameSync(this.path, aside);
    } catch {
      return false;
    }
    const moved = this.read(aside);
    if (moved !== undefined && moved.text !== holder.text) {
      // Between our read and our rename a live process took the lock: give it back.
      this.restore(aside);
      unlinkQuietly(aside);
      return false;
    }
    unlinkQuietly(aside);
    return this.create();
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    process.removeListener('exit', this.onExit);
    try {
      const holder = this.read(this.path);
      if (holder?.text === ownText()) unlinkSync(this.path);
    } catch {
      /* gone already */
    }
  }

  /**
   * Creates the lock with its content already in it: the pid is written to a private file which
   * is then hard-linked to the lock path (failing with EEXIST if the lock exists). A reader can
   * never see a half-written lock and mistake it for a stale one.
   */
  private create(): boolean {
    const draft = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(draft, ownText(), { mode: 0o600 });
    try {
      linkSync(draft, this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      unlinkSync(draft);
    }
    this.held = true;
    process.once('exit', this.onExit);
    return true;
  }

  /** Puts back a lock we moved aside by mistake, unless someone has taken the lock since. */
  private restore(aside: string): void {
    try {
      linkSync(aside, this.path);
    } catch {
      /* someone holds it now */
    }
  }

  private read(path: string): LockHolder | undefined {
    try {
      const text = readFileSync(path, 'utf8');
      const refreshedAt = statSync(path).mtimeMs;
      const [pid, pidNs] = text.trim().split(' ');
      return { pid: Number.parseInt(pid ?? '', 10), pidNs, refreshedAt, text };
    } catch {
      return undefined;
    }
  }
}

/** What this process writes in a lock: its pid and its PID namespace. */
function ownText(): string {
  const ns = pidNamespace();
  return ns === '' ? `${process.pid}\n` : `${process.pid} ${ns}\n`;
}
