import { IpcChannelError } from '../../errors.js';

/**
 * The Redis store of a federation cannot be used as configured: credentials refused, a database
 * index out of range, a TLS certificate rejected, a Redis too old. Retrying does not cure it;
 * the message says which option to fix.
 */
export class RedisStoreError extends IpcChannelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IPC_FEDERATION_REDIS', message, options);
  }
}
