import { Subject, connectable, finalize, isObservable, tap } from 'rxjs';

/** Ends the processing of a handler's result: a returned stream runs to its end first. */
export function connectResult(result: unknown, end: (error?: unknown) => void): void {
  if (!isObservable(result)) {
    end();
    return;
  }
  // A handler that threw reaches here too, as the error stream Nest's exception filter made.
  const source = connectable(result.pipe(tap({ error: end }), finalize(end)), {
    connector: () => new Subject(),
    resetOnDisconnect: false,
  });
  source.connect();
}
