import { HttpStatus } from '@nestjs/common';
import {
  InvalidEventNameError,
  InvalidTargetError,
  type IpcChannelError,
} from '../../channel/errors.js';
import {
  InvalidMessageError,
  NoHandlerPeerError,
  PeerLeftError,
  PeerUnavailableError,
  RequestTimeoutError,
} from '../ipc.errors.js';

/** The errors IpcExceptionFilter answers for; anything else goes on to Nest's own handling. */
export const HTTP_MAPPED_ERRORS = [
  PeerUnavailableError,
  PeerLeftError,
  RequestTimeoutError,
  InvalidTargetError,
  InvalidMessageError,
  InvalidEventNameError,
  NoHandlerPeerError,
] as const;

/** The HTTP status of a channel error, and whether the caller may try again later. */
export function httpStatusOf(error: IpcChannelError): { status: HttpStatus; retry: boolean } {
  if (error instanceof PeerUnavailableError || error instanceof PeerLeftError)
    return { status: HttpStatus.SERVICE_UNAVAILABLE, retry: true };
  if (error instanceof RequestTimeoutError)
    return error.waitedForRestart
      ? { status: HttpStatus.SERVICE_UNAVAILABLE, retry: true }
      : { status: HttpStatus.GATEWAY_TIMEOUT, retry: false };
  if (error instanceof NoHandlerPeerError)
    return { status: HttpStatus.NOT_IMPLEMENTED, retry: false };
  if (
    error instanceof InvalidTargetError ||
    error instanceof InvalidMessageError ||
    error instanceof InvalidEventNameError
  )
    return { status: HttpStatus.BAD_REQUEST, retry: false };
  return { status: HttpStatus.INTERNAL_SERVER_ERROR, retry: false };
}
