import { BaseRpcContext } from '@nestjs/microservices';
import type { PeerId } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import type { IpcMetadata } from '../protocol/nest-wire.js';

export type { IpcMetadata };

export type IpcContextArgs = [
  pattern: string,
  metadata: IpcMetadata,
  sender: PeerId,
  requestId: string | undefined,
  channel: Channel,
];

/**
 * What an IpcServer handler can learn about the message it handles, with `@Ctx() ctx: IpcContext`.
 */
export class IpcContext extends BaseRpcContext<IpcContextArgs> {
  /** The pattern, as a string (object patterns as their normalized JSON). */
  getPattern(): string {
    return this.args[0];
  }

  /** Metadata the client attached (for example a trace id); `{}` when none. */
  getMetadata(): IpcMetadata {
    return this.args[1];
  }

  /**
   * The peer id of the process that sent the message: a number for a peer of this host,
   * `'<host>/<id>'` (e.g. `'B/3'`) for one on another host of a federated channel. Either can be
   * given to `client.to(...)` to answer it.
   */
  getSender(): PeerId {
    return this.args[2];
  }

  /** The request id for `@MessagePattern` handlers; undefined for events. */
  getRequestId(): string | undefined {
    return this.args[3];
  }

  /** The channel the message came through. */
  getChannel(): Channel {
    return this.args[4];
  }
}
