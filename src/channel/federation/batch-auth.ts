import { createHmac, timingSafeEqual } from 'node:crypto';

/** Bytes of the HMAC-SHA256 trailer of a sealed batch or host view. */
export const TRAILER_BYTES = 32;

/**
 * Authenticates what one host's bridge stores for another (inbox batches, host views): with a
 * channel secret, each carries an HMAC-SHA256 trailer under a key derived from the secret and the
 * channel name, so a store client without the secret can neither forge nor alter one. Without a
 * secret, batches travel as they are.
 */
export class BatchAuth {
  private readonly key: Buffer | undefined;

  constructor(secret: string | Buffer | undefined, channel: string) {
    this.key =
      secret === undefined
        ? undefined
        : createHmac('sha256', secret).update(`ipc-federation:${channel}`).digest();
  }

  /** Whether batches are sealed (a secret is set). */
  get sealed(): boolean {
    return this.key !== undefined;
  }

  /** `body` with its trailer (or `body` itself without a secret). */
  seal(body: Buffer): Buffer {
    if (this.key === undefined) return body;
    return Buffer.concat([body, createHmac('sha256', this.key).update(body).digest()]);
  }

  /** The body of a sealed batch, or undefined if its trailer does not prove the secret. */
  open(batch: Buffer): Buffer | undefined {
    if (this.key === undefined) return batch;
    if (batch.length < TRAILER_BYTES) return undefined;
    const body = batch.subarray(0, batch.length - TRAILER_BYTES);
    const mac = createHmac('sha256', this.key).update(body).digest();
    return timingSafeEqual(mac, batch.subarray(batch.length - TRAILER_BYTES)) ? body : undefined;
  }
}
