import type { FrameDuplex } from '../io/frame-duplex.js';

/** Ends a connection, and destroys it if it has not closed a second later. */
export function endConnection(duplex: FrameDuplex): Promise<void> {
  return new Promise<void>((resolve) => {
    if (duplex.closed) return resolve();
    const previous = duplex.onClose;
    const force = setTimeout(() => duplex.destroy(), 1000);
    duplex.onClose = (e) => {
      clearTimeout(force);
      previous(e);
      resolve();
    };
    duplex.end();
  });
}
