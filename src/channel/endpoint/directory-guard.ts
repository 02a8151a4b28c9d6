import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { dirname, join, parse, sep } from 'node:path';
import { UnsafeDirectoryError } from '../errors.js';
import { DirectoryReplacedError } from '../endpoint-errors.js';

const STICKY = 0o1000;

function ownUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

function modeText(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Checks every directory above the channel's directory: each must belong to root or to this
 * user, and must not be writable by group or others unless it is sticky (as /tmp is). Anyone
 * who can write to a directory on the path can rename the channel's directory away and put
 * another one, with their own hub in it, in its place. Paths are resolved first, so a symbolic
 * link on the path (macOS's /tmp) is judged by where it leads. Unix only (Windows has no modes).
 */
export function checkAncestors(dir: string, make: (message: string) => Error = unsafe): void {
  const uid = ownUid();
  if (uid === undefined) return;
  let parent: string;
  try {
    parent = realpathSync(dirname(dir));
  } catch {
    return; // the directory's own checks report a missing path
  }
  const { root } = parse(parent);
  const parts = parent
    .slice(root.length)
    .split(sep)
    .filter((p) => p !== '');
  let path = root;
  for (let i = 0; i <= parts.length; i++) {
    if (i > 0) path = join(path, parts[i - 1]!);
    const st = lstatSync(path);
    if (st.uid !== 0 && st.uid !== uid) {
      throw make(
        `The directory ${path}, on the path of the channel directory ${dir}, belongs to uid ${st.uid}: that user could replace the channel directory. Use a 'dir' whose every parent belongs to root or to this user (uid ${uid}).`,
      );
    }
    if ((st.mode & 0o022) !== 0 && (st.mode & STICKY) === 0) {
      throw make(
        `The directory ${path}, on the path of the channel directory ${dir}, has mode ${modeText(st)}: other users can write to it and so rename the channel directory away and put their own in its place. Run 'chmod o-w,g-w ${path}' (or 'chmod +t ${path}'), or pass another 'dir' option.`,
      );
    }
  }
}

function unsafe(message: string): Error {
  return new UnsafeDirectoryError(message);
}

/**
 * The channel directory as it was when this process first joined: its device and inode. Every
 * election checks again, so a directory renamed away and replaced (by another user, through a
 * parent they can write) is noticed before this process would join whatever listens there.
 */
export class DirectoryPin {
  private pinned: { dev: number; ino: number } | undefined;

  constructor(readonly dir: string) {}

  /** Pins the directory the first time; later, throws DirectoryReplacedError if it changed. */
  verify(): void {
    let st: Stats;
    try {
      st = lstatSync(this.dir);
    } catch (e) {
      if (this.pinned === undefined) return; // made before the first election, checked there
      throw new DirectoryReplacedError(
        `The channel directory ${this.dir} is gone (${(e as NodeJS.ErrnoException).code}) since this process joined in it: it was renamed or removed. This process does not rejoin there; restart it once the directory is in order.`,
      );
    }
    if (this.pinned === undefined) {
      this.pinned = { dev: st.dev, ino: st.ino };
      return;
    }
    if (st.dev !== this.pinned.dev || st.ino !== this.pinned.ino) {
      throw new DirectoryReplacedError(
        `The channel directory ${this.dir} was replaced by another directory since this process joined in it (inode ${this.pinned.ino}, now ${st.ino}): whoever did it could pose as the hub, so this process does not rejoin there. Find out who replaced it, then restart the channel's processes.`,
      );
    }
    checkAncestors(this.dir, (message) => new DirectoryReplacedError(message));
  }
}
