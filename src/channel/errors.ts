import { uncertainText, undeliverableText } from './delivery-texts.js';

/**
 * Every failure the channel reports is one of these classes. Each carries a stable `code`
 * (for programs) and a message that says what to do (for people).
 */

/** Base class of every error raised by nestjs-ipc-channel. */
export class IpcChannelError extends Error {
  /** Stable machine-readable code, e.g. `ERR_IPC_UNDELIVERABLE`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A send, emit or connect after `close()`. */
export class ChannelClosedError extends IpcChannelError {
  constructor(what: string, remedy = 'the channel is closed. Create a new Channel to talk again.') {
    super('ERR_IPC_CHANNEL_CLOSED', `Cannot ${what}: ${remedy}`);
  }
}

/** An option given to `new Channel()` (or to a send) that cannot work. */
export class InvalidOptionError extends IpcChannelError {
  constructor(message: string) {
    super('ERR_IPC_INVALID_OPTION', message);
  }
}

/**
 * `to(x)` with something that is not a peer id, `'<host>/<id>'`, `'all'`, `'others'` or
 * `'host'`, or a peer on another host while the channel is not federated.
 */
export class InvalidTargetError extends IpcChannelError {
  constructor(target: unknown, federated = true) {
    super(
      'ERR_IPC_INVALID_TARGET',
      federated
        ? `Invalid target ${shownValue(target)}: use a peer id (an integer from 1 to 65532), '<host>/<id>' for a peer on another host, 'all', 'others' or 'host'.`
        : `Invalid target ${shownValue(target)}: a peer on another host needs the 'federation' option; without it use a peer id (an integer from 1 to 65532), 'all', 'others' or 'host'.`,
    );
  }
}

/** `send()` given more than its one message: the rest would be lost. */
export class TooManyArgumentsError extends IpcChannelError {
  constructor(method: string, count: number) {
    super(
      'ERR_IPC_TOO_MANY_ARGUMENTS',
      `${method}() takes one message but was given ${count} arguments, and would send only the first. Send one value that holds them all (an array or an object), or use emit(event, ...args) to send several arguments.`,
    );
  }
}

/** `emit()` with an event name the channel uses for itself, or an unusable one. */
export class InvalidEventNameError extends IpcChannelError {
  constructor(name: unknown, why: string) {
    super('ERR_IPC_INVALID_EVENT', `Invalid event name ${shownValue(name)}: ${why}.`);
  }
}

/** The codec could not encode a value (circular structure, BigInt under JSON, ...). */
export class EncodeError extends IpcChannelError {
  constructor(codec: string, cause: unknown) {
    super(
      'ERR_IPC_ENCODE',
      `The '${codec}' codec cannot encode this value (${errorText(cause)}). ${encodeRemedy(codec)}`,
      { cause },
    );
  }
}

function encodeRemedy(codec: string): string {
  if (codec === 'json')
    return `Send plain data, or use { codec: 'v8' } for Date, Map, Set, BigInt and typed arrays.`;
  if (codec === 'v8')
    return 'Send data the structured clone algorithm can copy: no functions, Symbols or class instances that need their prototype.';
  return `Check the value, or the '${codec}' codec's encode(): it must return a Buffer, a Uint8Array or a string.`;
}

/** A payload that arrived could not be decoded; it came from a peer using another codec or a bug. */
export class DecodeError extends IpcChannelError {
  constructor(codec: string, sender: number | string, cause: unknown) {
    super(
      'ERR_IPC_DECODE',
      `A message from peer ${sender} could not be decoded with the '${codec}' codec (${errorText(cause)}). ` +
        `Every process of a channel must use the same codec.`,
      { cause },
    );
  }
}

/** A frame larger than `maxFrameBytes`, sent or received. */
export class FrameTooLargeError extends IpcChannelError {
  constructor(size: number, limit: number, direction: 'send' | 'receive' | 'before-join') {
    super(
      'ERR_IPC_FRAME_TOO_LARGE',
      direction === 'send'
        ? `This message encodes to ${size} bytes, over maxFrameBytes (${limit}). Split it, or raise maxFrameBytes on every process of the channel.`
        : direction === 'receive'
          ? `A peer sent a frame of ${size} bytes, over maxFrameBytes (${limit}); its connection was closed. Raise maxFrameBytes on every process if such messages are expected.`
          : `A connection that has not joined sent a frame of ${size} bytes, over the ${limit} bytes allowed before a Join; it was closed. A process whose Join is this large has too large a 'meta' option: keep it small.`,
    );
  }
}

/** Bytes on a connection that are not a valid frame of this protocol. */
export class MalformedFrameError extends IpcChannelError {
  constructor(detail: string) {
    super(
      'ERR_IPC_MALFORMED_FRAME',
      `Malformed frame (${detail}); the connection that sent it was closed. Only nestjs-ipc-channel peers may connect to the channel socket.`,
    );
  }
}

/** The outbox holds more than `maxQueueBytes`: the caller ignored `false` from send/emit. */
export class QueueFullError extends IpcChannelError {
  constructor(queued: number, limit: number) {
    super(
      'ERR_IPC_QUEUE_FULL',
      `The channel already holds ${queued} bytes not yet delivered (limit maxQueueBytes = ${limit}); this message was not accepted. ` +
        `When send()/emit() returns false, wait for the 'drain' event before sending more.`,
    );
  }
}

/** Why a message could not be delivered. */
export type UndeliverableReason =
  | 'grace-expired'
  | 'hold-full'
  | 'peer-absent'
  | 'peer-retiring'
  | 'peer-left'
  | 'frame-too-large'
  | 'channel-closed';

/** The message accepted by send/emit could not reach its target; the message is attached. */
export class UndeliverableError extends IpcChannelError {
  constructor(
    /** The peer id the message was addressed to. */
    readonly target: number,
    /** Why it was not delivered. */
    readonly reason: UndeliverableReason,
    /** `'message'` for `send(msg)`, otherwise the event name given to `emit`. */
    readonly event: string,
    /** The message (for `send`) or the array of event arguments (for `emit`), decoded. */
    readonly data: unknown,
    /** What the sender knew of the target id, for the message (see IdRecord). */
    record?: IdRecord,
  ) {
    super('ERR_IPC_UNDELIVERABLE', undeliverableText(target, reason, event, record));
  }
}

/**
 * What a sender knew of an id nobody held: whether a process held it since this one joined,
 * and how long ago that one left if it was within graceMs (it is restarting).
 */
export interface IdRecord {
  readonly everHeld: boolean;
  readonly leftMsAgo?: number;
}

/**
 * A message whose delivery was never confirmed, though its target may have read it: it was
 * written to the process holding the id, which went away (or whose hub did) before confirming
 * it, and was then delivered nowhere else. That process may have handled it once. Unlike
 * UndeliverableError (no process received the message), retry only what is safe to run twice,
 * or check with the receiver's successor first.
 */
export class DeliveryUncertainError extends IpcChannelError {
  constructor(
    /** The peer id the message was addressed to. */
    readonly target: number,
    /** What ended the attempt after that process went away (for example its grace expired). */
    readonly reason: UndeliverableReason,
    /** `'message'` for `send(msg)`, otherwise the event name given to `emit`. */
    readonly event: string,
    /** The message (for `send`) or the array of event arguments (for `emit`), decoded. */
    readonly data: unknown,
  ) {
    super('ERR_IPC_DELIVERY_UNCERTAIN', uncertainText(target, reason, event));
  }
}

/**
 * The verdict on a message that will not be confirmed: not delivered to any process
 * (UndeliverableError), or perhaps handled once by a process that then went away
 * (DeliveryUncertainError).
 */
export type DeliveryFailure = UndeliverableError | DeliveryUncertainError;

/** The hub refused to let this process join. `reason` tells why. */
export class JoinRejectedError extends IpcChannelError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(`ERR_IPC_${reason.toUpperCase().replace(/-/g, '_')}`, message);
  }
}

/** The requested `id` belongs to a live peer. */
export class IdTakenError extends JoinRejectedError {
  constructor(id: number) {
    super(
      'id-taken',
      `Peer id ${id} is held by a live process of this channel. Give each process its own id, or omit 'id' to get the lowest free one.`,
    );
  }
}

/**
 * The channel already has a live hub on another kind of endpoint (for example a Unix socket,
 * while this process was told to use loopback TCP): joining would start a second channel of
 * the same name that the others never hear from.
 */
export class TransportMismatchError extends JoinRejectedError {
  constructor(
    name: string,
    ours: { kind: string; path: string },
    theirs: { kind: string; path: string },
  ) {
    super(
      'transport-mismatch',
      `Channel '${name}' already has a live hub on a ${theirs.kind} endpoint (${theirs.path}), but this process uses ${ours.kind} (${ours.path}): it would start a second channel that the others never hear from. Give every process of the channel the same 'transport' option (or the same NESTJS_IPC_TRANSPORT).`,
    );
  }
}

/** The shared secret was missing or wrong (on either side). */
export class AuthenticationError extends JoinRejectedError {
  constructor(message: string) {
    super('auth-failed', message);
  }
}

/** The hub speaks another protocol version, channel name or codec. */
export class HandshakeError extends JoinRejectedError {
  constructor(reason: string, message: string) {
    super(reason, message);
  }
}

/** `connect()` did not join within `connectTimeoutMs`. */
export class ConnectTimeoutError extends IpcChannelError {
  /** `why`: what the election found in the way, when it knows (see its subclasses). */
  constructor(ms: number, endpoint: string, why?: { code: string; message: string }) {
    super(
      why?.code ?? 'ERR_IPC_CONNECT_TIMEOUT',
      why === undefined
        ? `Could not join the channel at ${endpoint} within ${ms} ms. Is the hub process blocked, or is its preferred id still held? Raise connectTimeoutMs if startup is slow.`
        : `Could not join the channel at ${endpoint} within ${ms} ms: ${why.message}`,
    );
  }
}

/** The directory that holds the socket is unsafe or unusable. */
export class UnsafeDirectoryError extends IpcChannelError {
  constructor(message: string) {
    super('ERR_IPC_UNSAFE_DIR', message);
  }
}

/** The socket path would exceed the OS limit (sun_path), which Node would silently truncate. */
export class EndpointPathTooLongError extends IpcChannelError {
  constructor(path: string, limit: number) {
    super(
      'ERR_IPC_PATH_TOO_LONG',
      `The socket path ${path} is ${Buffer.byteLength(path)} bytes, over the ${limit}-byte limit of Unix sockets. Pass a shorter 'dir' option.`,
    );
  }
}

/**
 * No endpoint can be created for the channel: its directory cannot be created or written, or
 * (for loopback TCP) nothing can listen on 127.0.0.1. Not retried: it needs the operator.
 */
export class EndpointUnavailableError extends IpcChannelError {
  constructor(
    /** The directory that could not be used ('' when the directory is not the problem). */
    readonly dir: string,
    what: string,
    cause: unknown,
    /** A subclass's own code and message. */
    own?: { code: string; message: string },
  ) {
    super(
      own?.code ?? 'ERR_IPC_NO_ENDPOINT',
      own !== undefined
        ? own.message
        : dir === ''
          ? `Cannot create the channel endpoint: ${what} (${errorText(cause)}).`
          : `Cannot create the channel endpoint in ${dir}: ${what} (${errorText(cause)}). Make the directory writable by this user, or point NESTJS_IPC_DIR or the 'dir' option at a directory this user can write to.`,
      { cause },
    );
  }
}

/** File-system errors that retrying will not cure: the directory needs the operator. */
export function isUnwritable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return (
    code === 'EACCES' ||
    code === 'EPERM' ||
    code === 'EROFS' ||
    code === 'ENOSPC' ||
    code === 'EDQUOT' ||
    code === 'ENOTDIR'
  );
}

/** The election could not bind or connect for a reason other than a race (EACCES, ENOSPC, ...). */
export class ElectionError extends IpcChannelError {
  constructor(endpoint: string, cause: unknown) {
    super(
      'ERR_IPC_ELECTION',
      `Could neither connect to nor host the channel at ${endpoint} (${errorText(cause)}). Check that the directory is writable by this user.`,
      { cause },
    );
  }
}

/** The hub closed this connection because of what this process sent (a bug, or version skew). */
export class ProtocolError extends IpcChannelError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/**
 * A value as an error message shows it: JSON where that is faithful, else its own text, so
 * NaN, 2n, a Symbol or a circular object read as what they are (and never throw here).
 */
export function shownValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'symbol' || typeof value === 'function')
    return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** A short text for any thrown value. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
