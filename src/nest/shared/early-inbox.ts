import { Logger } from '@nestjs/common';
import type { PeerId } from '../../channel/channel-target.js';
import { NO_MESSAGE_HANDLER } from '../protocol/nest-wire.js';
import type { MessageSink } from './message-sink.js';

/** A request or event that arrived before this process's IpcServer was attached. */
interface EarlyMessage {
  readonly request: boolean;
  readonly whole: boolean;
  readonly sender: PeerId;
  readonly id: string;
  readonly raw: unknown;
  readonly broadcast: boolean;
}

/** How many such messages wait for an IpcServer (for the channel's graceMs). */
const MAX_EARLY_MESSAGES = 10_000;

/**
 * Messages for this process's IpcServer that arrived while none is attached: in a hybrid app the
 * IpcClient can join (an HTTP request used it) before startAllMicroservices() attaches the
 * server, and the messages the hub kept for this peer id arrive at once. They wait here, in
 * order, for the server. A process that never gets one responds to the requests as a server
 * without the handler would and drops the events, with a warning.
 */
export class EarlyInbox {
  private messages: EarlyMessage[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly logger = new Logger('IpcChannel');

  constructor(
    private readonly channelName: string,
    /** How long messages wait for an IpcServer to attach (the channel's graceMs). */
    private readonly waitMs: number,
    /** Sends a response packet to request `id` of `sender`. */
    private readonly respond: (sender: PeerId, id: string, packet: unknown) => void,
  ) {}

  /** Whether no message waits. */
  get empty(): boolean {
    return this.messages.length === 0;
  }

  keepRequest(sender: PeerId, id: string, raw: unknown, whole: boolean): void {
    this.keep({ request: true, sender, id, raw, whole, broadcast: false });
  }

  keepEvent(sender: PeerId, raw: unknown, broadcast: boolean): void {
    this.keep({ request: false, sender, id: '', raw, whole: false, broadcast });
  }

  /** Hands every waiting message, in order, to the IpcServer that has just attached. */
  replay(sink: MessageSink): void {
    this.stopTimer();
    const waited = this.messages;
    this.messages = [];
    for (const m of waited) {
      if (m.request) sink.onRequest(m.sender, m.id, m.raw, m.whole);
      else sink.onEvent(m.sender, m.raw, m.broadcast);
    }
  }

  /** Stops waiting (the channel closes). */
  stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private keep(message: EarlyMessage): void {
    if (this.messages.length >= MAX_EARLY_MESSAGES) {
      this.giveUp([message]);
      return;
    }
    this.messages.push(message);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        const waited = this.messages;
        this.messages = [];
        this.giveUp(waited);
      }, this.waitMs);
      this.timer.unref();
    }
  }

  private giveUp(messages: EarlyMessage[]): void {
    let events = 0;
    for (const m of messages) {
      if (m.request)
        this.respond(m.sender, m.id, { id: m.id, err: NO_MESSAGE_HANDLER, isDisposed: true });
      else if (!m.broadcast) events++;
    }
    if (events > 0) {
      this.logger.warn(
        `${events} event(s) for this process were dropped: no IpcServer listened on channel '${this.channelName}' within ${this.waitMs} ms`,
      );
    }
  }
}
