/**
 * The transport id of IpcServer. Use it to bind a handler to this transport only in a hybrid
 * app: `@MessagePattern('sum', IPC_TRANSPORT)`. `Symbol.for` keeps it one symbol even if two
 * copies of this package get loaded.
 */
export const IPC_TRANSPORT: unique symbol = Symbol.for('nestjs-ipc-channel');

/** Channel event names of the Nest binding's messages (not for use by applications). */
export const WIRE = {
  request: '@nest/req',
  response: '@nest/res',
  event: '@nest/evt',
  cancel: '@nest/cancel',
} as const;

/** What Nest's own transports answer for a request no handler matches (TCP parity). */
export const NO_MESSAGE_HANDLER =
  'There is no matching message handler defined in the remote service.';
