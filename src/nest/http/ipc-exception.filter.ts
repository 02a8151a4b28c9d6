import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  Inject,
  Injectable,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { BaseRpcExceptionFilter } from '@nestjs/microservices';
import { type Observable, throwError } from 'rxjs';
import type { IpcChannelError } from '../../channel/errors.js';
import { HTTP_MAPPED_ERRORS, httpStatusOf } from './http-status-of.js';

/** Options of IpcExceptionFilter (provide them under IPC_EXCEPTION_FILTER_OPTIONS for DI). */
export interface IpcExceptionFilterOptions {
  /** The `Retry-After` header of a 503, in seconds. Default 1. */
  retryAfterSeconds?: number;
}

/** The injection token of IpcExceptionFilterOptions. */
export const IPC_EXCEPTION_FILTER_OPTIONS = Symbol('IPC_EXCEPTION_FILTER_OPTIONS');

/** The body IpcExceptionFilter sends: Nest's usual error shape, plus the error's code. */
export interface IpcErrorBody {
  statusCode: number;
  /** The status' reason phrase, e.g. `'Service Unavailable'`. */
  error: string;
  /** The channel error's stable code, e.g. `'ERR_IPC_PEER_UNAVAILABLE'`. */
  code: string;
  /** The channel error's message, which says what to do. */
  message: string;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * Turns the channel errors an HTTP handler lets through into HTTP responses, instead of
 * Nest's `500 Internal server error`: a peer that is unavailable (restarting, shutting down)
 * or left → 503 with `Retry-After`; a request timeout → 504; an invalid target or message →
 * 400; no peer handles the pattern → 501. The body keeps the error's code and message.
 * Other exceptions are not caught. In a hybrid app's microservice (with `inheritAppConfig`)
 * the errors it catches are handled as they would be without it (Nest's RPC default).
 *
 * ```ts
 * app.useGlobalFilters(new IpcExceptionFilter(app.get(HttpAdapterHost)));
 * // or, with DI: providers: [{ provide: APP_FILTER, useClass: IpcExceptionFilter }]
 * ```
 */
@Catch(...HTTP_MAPPED_ERRORS)
@Injectable()
export class IpcExceptionFilter implements ExceptionFilter<IpcChannelError> {
  private readonly retryAfter: string;
  /** What a microservice handler's error gets without this filter: Nest's default for RPC. */
  private readonly rpc = new BaseRpcExceptionFilter();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Optional() @Inject(IPC_EXCEPTION_FILTER_OPTIONS) options: IpcExceptionFilterOptions = {},
  ) {
    const seconds = options?.retryAfterSeconds ?? 1;
    this.retryAfter = String(Math.max(0, Math.ceil(seconds)));
  }

  catch(error: IpcChannelError, host: ArgumentsHost): void | Observable<unknown> {
    const type = host.getType();
    if (type === 'rpc') return this.rpc.catch(error, host);
    if (type !== 'http') return throwError(() => error);
    const adapter = this.adapterHost.httpAdapter;
    const response: unknown = host.switchToHttp().getResponse();
    const { status, retry } = httpStatusOf(error);
    const body: IpcErrorBody = {
      statusCode: status,
      error: REASONS[status] ?? 'Error',
      code: error.code,
      message: error.message,
    };
    if (retry) adapter.setHeader(response, 'Retry-After', this.retryAfter);
    adapter.reply(response, body, status);
  }
}
