import { unlinkSync } from 'node:fs';

/** Removes a file that may already be gone: a stale socket, lock or endpoint file. */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone already */
  }
}
