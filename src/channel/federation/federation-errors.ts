import { IpcChannelError } from '../errors.js';

/** The `federation` option cannot work (a bad host name, both or neither of redis and adapter...). */
export class FederationOptionsError extends IpcChannelError {
  constructor(message: string) {
    super('ERR_IPC_FEDERATION_OPTIONS', message);
  }
}

/** `federation.redis` is set but the optional `ioredis` package is not installed. */
export class FederationDependencyError extends IpcChannelError {
  constructor(cause: unknown) {
    super(
      'ERR_IPC_FEDERATION_DEPENDENCY',
      `The 'federation.redis' option needs the 'ioredis' package, which could not be loaded. Install it with 'npm i ioredis', or pass 'federation.adapter' for another store.`,
      { cause },
    );
  }
}

/**
 * The store between hosts failed a call (unreachable, refused). The bridge keeps retrying:
 * nothing is dropped, and local senders feel it as backpressure until the store is back.
 */
export class FederationStoreError extends IpcChannelError {
  constructor(what: string, cause: unknown) {
    super(
      'ERR_IPC_FEDERATION_STORE',
      `The federation store failed to ${what} (${cause instanceof Error ? cause.message : String(cause)}); retrying. Messages to other hosts wait meanwhile; check that the store (Redis) is reachable.`,
      { cause },
    );
  }
}
