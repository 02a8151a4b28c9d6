import type { Observable } from 'rxjs';
import type { TargetSpec } from '../../channel/channel-target.js';
import type { IpcClient } from './ipc.client.js';
import type { IpcReply } from './ipc-reply.interface.js';

/** What `send` yields: the handler's values for one peer, IpcReply objects for a gather. */
export type IpcSendResult<T extends TargetSpec, R> = T extends 'all' | 'others' | 'host'
  ? IpcReply<R>
  : R;

/**
 * `client.to(target)`: the same `send`/`emit` as the client, aimed at a peer (`3` on this host,
 * `'B/3'` on host B of a federated channel) or a group (`'all'` hosts, `'others'`, or this
 * `'host'` only).
 */
export class IpcClientTarget<T extends TargetSpec> {
  /** @internal */
  constructor(
    private readonly client: IpcClient,
    readonly target: T,
  ) {}

  /**
   * To one peer: the handler's values, as `client.send` gives them. To `'all'`, `'others'` or
   * `'host'`: one IpcReply per peer that handles the pattern (more for streaming handlers), on
   * every host for the first two, on this one for `'host'`; completes when each has responded
   * or left (a dropped host's peers leave); a failing peer gives an IpcReply with `error`.
   */
  send<TResult = any, TInput = any>(
    pattern: any,
    data: TInput,
  ): Observable<IpcSendResult<T, TResult>> {
    return this.client.request(this.target, pattern, data) as Observable<IpcSendResult<T, TResult>>;
  }

  /**
   * Emits an event to this target. Completes once accepted (after 'drain' if the queue is full),
   * or with the client's `confirmEvents` option once read and handled (see IpcClient.emit).
   */
  emit<TInput = any>(pattern: any, data: TInput): Observable<undefined> {
    return this.client.event(this.target, pattern, data);
  }
}
