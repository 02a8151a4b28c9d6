import { InvalidEventNameError } from '../channel/errors.js';
import { RESERVED_EVENTS } from '../channel/peer/event-name-encoder.js';

/**
 * Names this entry point emits itself (or EventEmitter does): a peer that could send them would
 * run the receiver's lifecycle handlers, so they cannot be emitted.
 */
export const OWN_EVENTS: ReadonlySet<string> = new Set([
  'connect',
  'disconnect',
  'error',
  'newListener',
  'removeListener',
]);

/**
 * Marks an escaped name. Names that already start with it are escaped too, so that unescaping is
 * exact: a name on the wire starts with the prefix if and only if it was escaped.
 */
export const ESCAPE_PREFIX = '@ipchannel/';

/** The wire name of `send(...data)` when it is not one value (see MessageTarget.send). */
export const MESSAGE_EVENT = `${ESCAPE_PREFIX}message`;

/**
 * The name `event` travels under. Throws InvalidEventNameError for names this entry point emits
 * itself, and for what is not a non-empty string (the channel checks the rest).
 */
export function wireName(event: string): string {
  if (typeof event !== 'string' || event.length === 0) {
    throw new InvalidEventNameError(event, 'it must be a non-empty string');
  }
  if (OWN_EVENTS.has(event)) {
    throw new InvalidEventNameError(
      event,
      'this channel emits it itself (connect, disconnect, error); use another name',
    );
  }
  return RESERVED_EVENTS.has(event) || event.startsWith(ESCAPE_PREFIX)
    ? ESCAPE_PREFIX + event
    : event;
}
