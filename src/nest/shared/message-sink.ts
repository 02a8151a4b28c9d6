import type { PeerId } from '../../channel/channel-target.js';
import type { DeliveryFailure } from '../../channel/errors.js';

/** What an IpcServer offers the shared channel: its patterns, and where messages go. */
export interface MessageSink {
  readonly messageRoutes: readonly string[];
  readonly eventRoutes: readonly string[];
  /**
   * `whole`: the request came as a whole packet (a custom serializer made it), and its response
   * goes back the same way.
   */
  onRequest(sender: PeerId, id: string, raw: unknown, whole: boolean): void;
  onEvent(sender: PeerId, raw: unknown, broadcast: boolean): void;
  onCancel(sender: PeerId, id: string): void;
  /** The response to `sender`'s request `id` was refused by the hub (`error` says why). */
  onResponseRefused(sender: PeerId, id: string, error: DeliveryFailure): void;
}
