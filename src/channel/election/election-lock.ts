import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EndpointUnavailableError, isUnwritable } from '../errors.js';
import { unlinkQuietly } from '../util/files.js';
import { isAlive } from '../util/liveness.js';

/**
 * A lock held only while one process replaces a stale socket file, so two processes that both
 * found the hub dead never both unlink and bind. The file holds the holder's pid; a lock whose
 * holder is dead, or that is older than any election could take, may be broken.
 */
export class ElectionLock {
  /** Elections hold the lock for milliseconds; one this old belongs to a stuck or reused pid. */
  static readonly STALE_MS = 3000;

  private held = false;
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
    if (this.create()) return true;
    const holder = this.read(this.path);
    if (holder === undefined) return this.create(); // released meanwhile
    if (isAlive(holder.pid) && Date.now() - holder.mtimeMs < ElectionLock.STALE_MS) return false;

    // Break it by moving it aside first: rename is atomic, so of several breakers only one gets
    // the file; the others see ENOENT and wait for the next round.
    const aside = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      renameSync(this.path, aside);
    } catch {
      return false;
    }
    const moved = this.read(aside);
    // Object.is: a lock whose content is no pid (NaN) is still the one we read, not a new one.
    if (moved !== undefined && !Object.is(moved.pid, holder.pid)) {
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
      if (holder?.pid === process.pid) unlinkSync(this.path);
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
    writeFileSync(draft, `${process.pid}\n`, { mode: 0o600 });
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

  private read(path: string): { pid: number; mtimeMs: number } | undefined {
    try {
      const text = readFileSync(path, 'utf8');
      const mtimeMs = statSync(path).mtimeMs;
      return { pid: Number.parseInt(text, 10), mtimeMs };
    } catch {
      return undefined;
    }
  }
}
