import { mkdtempSync, rmSync } from 'node:fs';

/** A private directory and the way to remove it with everything in it. */
export interface TempDir {
  readonly path: string;
  remove(): void;
}

/**
 * A fresh private directory (mode 0700, as mkdtemp makes it) for one test's sockets. The path
 * is short because a Unix socket path must fit in about 100 bytes.
 */
export function tempDir(): TempDir {
  const path = mkdtempSync('/tmp/ipct-');
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
