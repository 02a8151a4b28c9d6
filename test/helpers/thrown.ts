/** The error `fn` throws, as `E`; fails the test when it throws none. */
export function thrown<E = Error>(fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    return e as E;
  }
  throw new Error('expected an error, but none was thrown');
}

/** The reason `promise` rejects with, as `E`; fails the test when it resolves. */
export async function rejection<E = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (e) {
    return e as E;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
