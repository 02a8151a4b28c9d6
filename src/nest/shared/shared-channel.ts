import type { PeerId } from '../../channel/channel-target.js';
import type { Channel } from '../../channel/channel.js';
import type { DeliveryFailure, IpcChannelError } from '../../channel/errors.js';
import {
  type ResponseForm,
  type ServerSide,
  WIRE,
  receivePackets,
  requestIdOf,
  sendResponse,
} from '../protocol/nest-wire.js';
import { EarlyInbox } from './early-inbox.js';
import { HandlerDirectory } from './handler-directory.js';
import type { MessageSink } from './message-sink.js';
import { PendingRequests } from './pending-requests.js';
import { StatusForwarder } from './status-forwarder.js';

/**
 * One channel connection per process and channel name, shared by the IpcServer and every
 * IpcClient of the process, so they agree on one peer id (see channel-registry.ts). Requests
 * and events it reads go to the process's IpcServer, or wait in the early inbox until one
 * attaches; responses go to the pending requests.
 */
export class SharedChannel implements ServerSide {
  readonly channel: Channel;
  /** This process's requests in flight. */
  readonly requests: PendingRequests;
  /** Which peers handle which patterns. */
  readonly directory: HandlerDirectory;
  readonly status: StatusForwarder;
  private readonly inbox: EarlyInbox;
  private readonly sinks = new Set<MessageSink>();
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    channel: Channel,
    /** How long messages wait for an IpcServer to attach (the channel's graceMs). */
    earlyWaitMs: number,
  ) {
    this.channel = channel;
    this.requests = new PendingRequests(channel, earlyWaitMs);
    this.directory = new HandlerDirectory(channel, earlyWaitMs);
    this.status = new StatusForwarder(channel);
    this.inbox = new EarlyInbox(channel.name, earlyWaitMs, (sender, id, packet) => {
      this.sendResponse(sender, id, packet);
    });
    receivePackets(channel, this, this.requests);
  }

  connect(): Promise<void> {
    this.connecting ??= this.channel.connect();
    return this.connecting;
  }

  /** Leaves the channel gracefully; requests still waiting fail. */
  async close(): Promise<void> {
    this.inbox.stopTimer();
    this.closing ??= this.channel.close();
    await this.closing;
    this.requests.failAll();
  }

  /** Takes nothing new for this process; resolves once what was sent to it has been read. */
  retire(): Promise<void> {
    return this.channel.retire();
  }

  attach(sink: MessageSink): void {
    this.sinks.add(sink);
    this.directory.announce(this.sinks);
    if (!this.inbox.empty) this.inbox.replay(sink);
  }

  detach(sink: MessageSink): void {
    this.sinks.delete(sink);
    this.directory.announce(this.sinks);
  }

  /**
   * Sends one response packet. Returns the error when it could not be sent at all (it does not
   * encode, or is too large), so the server can send that instead.
   */
  sendResponse(target: PeerId, id: string, raw: unknown): IpcChannelError | undefined {
    return this.respond(WIRE.response, target, id, raw);
  }

  /**
   * Sends the common response, `{ id, response, isDisposed: true }` from Nest's default
   * serializer, as its one value (see sendResponse). `response` must not be undefined: that
   * response completes empty, which only the whole packet says.
   */
  sendResponseValue(target: PeerId, id: string, response: unknown): IpcChannelError | undefined {
    return this.respond(WIRE.responseValue, target, id, response);
  }

  /** @internal */
  onRequest(sender: PeerId, id: string, raw: unknown, whole: boolean): void {
    for (const sink of this.sinks) {
      sink.onRequest(sender, id, raw, whole);
      return;
    }
    this.inbox.keepRequest(sender, id, raw, whole);
  }

  /** @internal */
  onEvent(sender: PeerId, raw: unknown, broadcast: boolean): void {
    for (const sink of this.sinks) {
      sink.onEvent(sender, raw, broadcast);
      return;
    }
    this.inbox.keepEvent(sender, raw, broadcast);
  }

  /** @internal */
  onCancel(sender: PeerId, id: string): void {
    for (const sink of this.sinks) sink.onCancel(sender, id);
  }

  private respond(
    form: ResponseForm,
    target: PeerId,
    id: string,
    value: unknown,
  ): IpcChannelError | undefined {
    try {
      sendResponse(this.channel, form, target, id, value);
      return undefined;
    } catch (e) {
      this.status.stray(e as IpcChannelError);
      return e as IpcChannelError;
    }
  }

  /** @internal A response too large for the requester to read fails its request instead. */
  onResponseUndelivered(error: DeliveryFailure): void {
    const id = requestIdOf(error);
    if (error.reason !== 'frame-too-large' || id === undefined) return;
    for (const sink of this.sinks) sink.onResponseRefused(error.target, id, error);
  }
}
