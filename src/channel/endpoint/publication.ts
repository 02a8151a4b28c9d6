import { linkSync, lstatSync, unlinkSync } from 'node:fs';

/** What the hub's watchdog found when it looked at the public name. */
export type PublicationState = 'ours' | 'republished' | 'replaced' | 'gone';

/**
 * How a hub is made findable, and how it stops being so. Election publishes; the hub keeps
 * checking (a /tmp cleaner may remove the public file, or a second hub may replace it after a
 * race no lock fully excludes) and withdraws on close.
 */
export interface Publication {
  /** The public name peers look up. */
  readonly path: string;
  /** Whether `check()` means anything (a named pipe has no file to watch). */
  readonly watched: boolean;
  /** Looks at the public name; puts it back if it was removed. */
  check(): PublicationState;
  /** Whether the public name is this hub's right now (looks only; repairs nothing). */
  isOurs(): boolean;
  /** Removes the public name, but only if it is still ours. */
  unpublish(): void;
  /** Removes what only this hub uses (its private name); after the server has closed. */
  dispose(): void;
}

/**
 * A hub published as a hard link from a private name (`<base>.<pid>.hub`) to the public one.
 * The public file's inode is the hub's identity: the same inode means it is still ours.
 */
export class LinkedPublication implements Publication {
  readonly watched = true;

  constructor(
    /** The private name, used by this process only. */
    readonly hubPath: string,
    readonly path: string,
    /** The inode of both names. */
    readonly ino: number,
    /** Whether dispose() removes the private name (a server's close unlinks a bound socket itself). */
    private readonly ownsPrivateFile: boolean,
  ) {}

  check(): PublicationState {
    let ino: number;
    try {
      ino = lstatSync(this.path).ino;
    } catch {
      try {
        linkSync(this.hubPath, this.path);
        return 'republished';
      } catch {
        try {
          ino = lstatSync(this.path).ino;
        } catch {
          return 'gone';
        }
      }
    }
    return ino === this.ino ? 'ours' : 'replaced';
  }

  isOurs(): boolean {
    try {
      return lstatSync(this.path).ino === this.ino;
    } catch {
      return false;
    }
  }

  unpublish(): void {
    try {
      if (lstatSync(this.path).ino === this.ino) unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }

  dispose(): void {
    if (!this.ownsPrivateFile) return;
    try {
      unlinkSync(this.hubPath);
    } catch {
      /* already gone */
    }
  }
}

/** A named pipe: the name lives as long as the server, and nothing else can take it. */
export class PipePublication implements Publication {
  readonly watched = false;
  constructor(readonly path: string) {}
  check(): PublicationState {
    return 'ours';
  }
  isOurs(): boolean {
    return true;
  }
  unpublish(): void {}
  dispose(): void {}
}
