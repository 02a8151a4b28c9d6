/**
 * The transport id of IpcServer. Use it to bind a handler to this transport only in a hybrid
 * app: `@MessagePattern('sum', IPC_TRANSPORT)`. `Symbol.for` keeps it one symbol even if two
 * copies of this package get loaded.
 */
export const IPC_TRANSPORT: unique symbol = Symbol.for('nestjs-ipc-channel');

/**
 * Channel event names of the Nest binding's messages (not for use by applications). A packet
 * made by Nest's default serializer travels as its fields (see SharedChannel); one a custom
 * serializer made travels whole. The whole-packet names are the ones earlier versions used for
 * every packet, so a process of this version still reads what an older one sends during a
 * rolling reload.
 */
export const WIRE = {
  /** `[id, pattern, data, metadata?]` */
  request: '@nest/rq',
  /** `[id, packet]` */
  requestRaw: '@nest/req',
  /** `[pattern, data, broadcast, metadata?]` */
  event: '@nest/ev',
  /** `[packet, broadcast]` */
  eventRaw: '@nest/evt',
  /** `[id, response]`: one value that ends the request (`{ response, isDisposed: true }`). */
  answer: '@nest/ans',
  /** `[id, packet]`: any other response packet (a stream's values, errors, custom serializers). */
  response: '@nest/res',
  /** `[id]` */
  cancel: '@nest/cancel',
} as const;

/** What Nest's own transports answer for a request no handler matches (TCP parity). */
export const NO_MESSAGE_HANDLER =
  'There is no matching message handler defined in the remote service.';
