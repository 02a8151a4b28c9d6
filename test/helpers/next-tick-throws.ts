/**
 * Runs `body` while what process.nextTick callbacks throw is collected instead of crashing the
 * test: for code that rethrows a listener's or callback's exception on a later tick, as an
 * EventEmitter would. Returns what was thrown, in order.
 */
export async function nextTickThrows(
  body: (thrown: unknown[]) => Promise<void>,
): Promise<unknown[]> {
  const thrown: unknown[] = [];
  const nextTick = process.nextTick;
  process.nextTick = ((fn: (...args: unknown[]) => void, ...args: unknown[]) =>
    nextTick(() => {
      try {
        fn(...args);
      } catch (e) {
        thrown.push(e);
      }
    })) as typeof process.nextTick;
  try {
    await body(thrown);
  } finally {
    process.nextTick = nextTick;
  }
  return thrown;
}
