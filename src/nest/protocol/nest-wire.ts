import type { PeerId, TargetSpec } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import type { DeliveryFailure } from '../../channel/errors.js';

/** Out-of-band strings that travel with a packet (Nest 12's `setOnDispatchHook` metadata). */
export type IpcMetadata = Record<string, string>;

/**
 * Channel event names of the Nest binding's messages (not for use by applications). A packet
 * made by Nest's default serializer travels as its fields, and the receiver puts it back
 * together; one a custom serializer made travels whole, as the serializer left it.
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
  /** `[id, response]`: a request's one value, which ends it (`{ response, isDisposed: true }`). */
  responseValue: '@nest/ans',
  /** `[id, packet]`: any other response packet (a stream's values, errors, custom serializers). */
  response: '@nest/res',
  /** `[id]` */
  cancel: '@nest/cancel',
} as const;

/** What Nest's own transports respond to a request no handler matches (TCP parity). */
export const NO_MESSAGE_HANDLER =
  'There is no matching message handler defined in the remote service.';

/** A packet as Nest's default serializer leaves it (the dispatch hook may add metadata). */
export interface NestPacket {
  readonly pattern: string;
  readonly data: unknown;
  readonly metadata?: IpcMetadata;
}

/** What this process's serving side (its IpcServer) receives. */
export interface ServerSide {
  /**
   * `whole`: the request came as a whole packet (a custom serializer made it), and its response
   * goes back the same way.
   */
  onRequest(sender: PeerId, id: string, raw: unknown, whole: boolean): void;
  onEvent(sender: PeerId, raw: unknown, broadcast: boolean): void;
  onCancel(sender: PeerId, id: string): void;
  /** The hub could not deliver a response this process sent. */
  onResponseUndelivered(error: DeliveryFailure): void;
}

/** What this process's requesting side (its requests in flight) receives. */
export interface ClientSide {
  /** A response packet for request `id`, still as the responder's serializer left it. */
  onResponse(id: string, raw: unknown): void;
  /** The hub could not deliver a request this process sent. */
  onRequestUndelivered(error: DeliveryFailure): void;
}

/**
 * Responses and cancels concern the process that started the request: they reach it even while
 * it retires (a worker being reloaded still gets the responses its last HTTP requests await).
 */
const TO_PROCESS = { _toProcess: true } as const;

/** Requests are not held for an absent peer: one to a dead id should fail now, not in 5 s. */
const NO_HOLD = { hold: false } as const;

/**
 * Reads the Nest binding's messages from `channel`: requests, events and cancels for `server`,
 * responses for `client`, and the hub's refusals for whichever side sent the refused message.
 */
export function receivePackets(channel: Channel, server: ServerSide, client: ClientSide): void {
  // Packets made by Nest's default serializer arrive as their fields; they are put back
  // together here, as the JSON of the whole packet would have been.
  channel._read(WIRE.request, (sender, [id, pattern, data, metadata]) =>
    server.onRequest(
      sender,
      id as string,
      metadata === undefined ? { id, pattern, data } : { id, pattern, data, metadata },
      false,
    ),
  );
  channel._read(WIRE.requestRaw, (sender, [id, raw]) =>
    server.onRequest(sender, id as string, raw, true),
  );
  channel._read(WIRE.responseValue, (_sender, [id, response]) =>
    client.onResponse(id as string, { id, response, isDisposed: true }),
  );
  channel._read(WIRE.response, (_sender, [id, raw]) => client.onResponse(id as string, raw));
  channel._read(WIRE.event, (sender, [pattern, data, broadcast, metadata]) =>
    server.onEvent(
      sender,
      metadata === undefined ? { pattern, data } : { pattern, data, metadata },
      broadcast === 1,
    ),
  );
  channel._read(WIRE.eventRaw, (sender, [raw, broadcast]) =>
    server.onEvent(sender, raw, broadcast === 1),
  );
  channel._read(WIRE.cancel, (sender, [id]) => server.onCancel(sender, id as string));
  for (const name of [WIRE.request, WIRE.requestRaw]) {
    channel._claimUndeliverable(name, (error) => client.onRequestUndelivered(error));
  }
  // A response or cancel for a requester that is gone has nobody left to tell; a response too
  // large for the requester to read fails its request instead.
  for (const name of [WIRE.responseValue, WIRE.response]) {
    channel._claimUndeliverable(name, (error) => server.onResponseUndelivered(error));
  }
  channel._claimUndeliverable(WIRE.cancel, () => {});
}

/**
 * Sends request `id`: `raw` is the packet, or what a custom serializer made of it (`serialized`).
 */
export function sendRequest(
  channel: Channel,
  target: PeerId,
  id: string,
  raw: unknown,
  serialized: boolean,
): void {
  const to = channel.to(target, NO_HOLD);
  if (serialized) to.emit(WIRE.requestRaw, id, raw);
  else {
    const { pattern, data, metadata } = raw as NestPacket;
    if (metadata === undefined) to.emit(WIRE.request, id, pattern, data);
    else to.emit(WIRE.request, id, pattern, data, metadata);
  }
}

/**
 * Sends an event (see sendRequest for `raw` and `serialized`). Returns false when the sender
 * should wait for the channel's 'drain'.
 */
export function sendEvent(
  channel: Channel,
  target: TargetSpec,
  raw: unknown,
  serialized: boolean,
  broadcast: 0 | 1,
): boolean {
  const to = channel.to(target);
  if (serialized) return to.emit(WIRE.eventRaw, raw, broadcast);
  const { pattern, data, metadata } = raw as NestPacket;
  return metadata === undefined
    ? to.emit(WIRE.event, pattern, data, broadcast)
    : to.emit(WIRE.event, pattern, data, broadcast, metadata);
}

/** The two forms of a response (see WIRE): a whole packet, or a request's one value. */
export type ResponseForm = typeof WIRE.response | typeof WIRE.responseValue;

/**
 * Sends a response to request `id` of `target`. Responses are held like events, not refused
 * like requests: a requester that is reconnecting after a failover (to a hub that has not seen
 * it yet) must still get its response; one that is gone for good lets it expire after graceMs.
 * Throws when the response does not encode or is too large.
 */
export function sendResponse(
  channel: Channel,
  form: ResponseForm,
  target: PeerId,
  id: string,
  value: unknown,
): void {
  channel.to(target, TO_PROCESS).emit(form, id, value);
}

/** Tells `target` to stop working on request `id`. */
export function sendCancel(channel: Channel, target: PeerId, id: string): void {
  channel.to(target, TO_PROCESS).emit(WIRE.cancel, id);
}

/** The request id an undelivered request, response or cancel carried (its first argument). */
export function requestIdOf(error: DeliveryFailure): string | undefined {
  const id: unknown = Array.isArray(error.data) ? error.data[0] : undefined;
  return typeof id === 'string' ? id : undefined;
}
