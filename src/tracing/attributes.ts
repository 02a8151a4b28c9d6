/*
 * The OpenTelemetry messaging semantic conventions' attribute names and values these spans use.
 * They are still "incubating" in @opentelemetry/semantic-conventions, whose incubating entry
 * may rename them in a minor release; the conventions' authors ask libraries to keep their own
 * copies rather than import that entry. test/tracing checks these against the installed package.
 */

/** `messaging.system.name` and `messaging.system`: what carries the messages. */
export const MESSAGING_SYSTEM = 'nestjs-ipc-channel';

export const ATTR_MESSAGING_SYSTEM_NAME = 'messaging.system.name';
/**
 * The older name of `messaging.system.name`: many tracing back ends still recognize messaging
 * spans by it, so both are set.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_CLIENT_ID = 'messaging.client.id';
export const ATTR_ERROR_TYPE = 'error.type';

export const OPERATION_TYPE_SEND = 'send';
export const OPERATION_TYPE_PROCESS = 'process';
/** `error.type` of a failure that is not an Error (a remote handler's `{ status, message }`). */
export const ERROR_TYPE_OTHER = '_OTHER';

/** The channel's name (messaging.destination.name holds the pattern). */
export const ATTR_IPC_CHANNEL = 'nestjs_ipc.channel';
/** Who a message was sent to: a peer id, `all`, `others`, or `any` (one peer that handles it). */
export const ATTR_IPC_TARGET = 'nestjs_ipc.target';
/** The peer id of the process that sent the message being processed. */
export const ATTR_IPC_SENDER = 'nestjs_ipc.sender';
