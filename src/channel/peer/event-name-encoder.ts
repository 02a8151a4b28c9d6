import { InvalidEventNameError } from '../errors.js';

/** Event names remembered after their first check (a bound against unbounded name sets). */
const MAX_CACHED_NAMES = 1024;
/** The longest event name, in UTF-8 bytes. */
const MAX_NAME_BYTES = 1024;

/** Event names the channel emits itself; `emit()` refuses them so they cannot be spoofed. */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set([
  'message',
  'connect',
  'disconnect',
  'join',
  'leave',
  'hub',
  'meta',
  'drain',
  'retiring',
  'leader',
  'follower',
  'error',
  'close',
  'newListener',
  'removeListener',
]);

/** Checks the event names given to `emit()` and encodes each once: senders repeat a few names. */
export class EventNameEncoder {
  private readonly encoded = new Map<string, Buffer>();

  /** The UTF-8 bytes of a valid event name; throws InvalidEventNameError otherwise. */
  encode(event: string): Buffer {
    const known = this.encoded.get(event);
    if (known !== undefined) return known;
    if (typeof event !== 'string' || event.length === 0) {
      throw new InvalidEventNameError(event, 'it must be a non-empty string');
    }
    if (RESERVED_EVENTS.has(event)) {
      throw new InvalidEventNameError(
        event,
        'the channel emits it itself; use send() or another name',
      );
    }
    const bytes = Buffer.from(event, 'utf8');
    if (bytes.length > MAX_NAME_BYTES) {
      throw new InvalidEventNameError(event, `it is over ${MAX_NAME_BYTES} bytes`);
    }
    if (this.encoded.size < MAX_CACHED_NAMES) this.encoded.set(event, bytes);
    return bytes;
  }
}
