import type { EventEmitter } from 'node:events';
import type { ResolvedOptions } from '../channel-options.js';
import type { Log } from '../logger.js';
import type { Codec } from '../wire/codec.js';
import type { ErrorReporter } from './error-reporter.js';
import type { HubLink } from './hub-link.js';
import type { Membership } from './membership.js';
import type { Outbox } from './outbox.js';
import type { PeerState } from './peer-state.js';

/** The long-lived parts of a channel that its pieces in peer/ share, made once by the Channel. */
export interface PeerContext {
  /** The channel, as the emitter of its events. */
  readonly channel: EventEmitter;
  readonly state: PeerState;
  readonly options: ResolvedOptions;
  readonly codec: Codec;
  readonly log: Log;
  readonly hubLink: HubLink;
  readonly outbox: Outbox;
  readonly membership: Membership;
  readonly errors: ErrorReporter;
}

/**
 * A piece of a channel's peer side. It holds the shared parts as its own fields, copied once
 * when it is made, so the send and receive paths read them without going through the context.
 */
export abstract class PeerPart {
  protected readonly channel: EventEmitter;
  protected readonly state: PeerState;
  protected readonly options: ResolvedOptions;
  protected readonly codec: Codec;
  protected readonly log: Log;
  protected readonly hubLink: HubLink;
  protected readonly outbox: Outbox;
  protected readonly membership: Membership;
  protected readonly errors: ErrorReporter;

  constructor(ctx: PeerContext) {
    this.channel = ctx.channel;
    this.state = ctx.state;
    this.options = ctx.options;
    this.codec = ctx.codec;
    this.log = ctx.log;
    this.hubLink = ctx.hubLink;
    this.outbox = ctx.outbox;
    this.membership = ctx.membership;
    this.errors = ctx.errors;
  }
}
