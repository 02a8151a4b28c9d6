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

/**
 * Another adapter of this host reads its inbox now: a newer hub of the host took over while
 * this one was stopped or hung. This one can never read or acknowledge again; its bridge is
 * closing (the hub it belonged to no longer hosts the channel).
 */
export class InboxTakenOverError extends IpcChannelError {
  constructor(host: string) {
    super(
      'ERR_IPC_FEDERATION_INBOX_TAKEN_OVER',
      `Another bridge of host '${host}' reads its inbox now (a newer hub of this host took over while this process was stopped or hung). This bridge reads nothing more; close it.`,
    );
  }
}
