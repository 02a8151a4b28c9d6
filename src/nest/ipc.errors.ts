import type { PeerId, TargetSpec } from '../channel/channel-target.js';
import { IpcChannelError } from '../channel/errors.js';
import type { AbsentId } from './shared/id-history.js';

/** `send()` without a target, or a gather, for a pattern no peer has announced a handler for. */
export class NoHandlerPeerError extends IpcChannelError {
  constructor(
    readonly pattern: string,
    channel: string,
  ) {
    super(
      'ERR_IPC_NO_HANDLER_PEER',
      `No peer of channel '${channel}' handles '${pattern}'. Start a process whose IpcServer has @MessagePattern(${JSON.stringify(pattern)}), or check the pattern.`,
    );
  }
}

/** The peer a request went to left (died, restarted, closed) before responding. */
export class PeerLeftError extends IpcChannelError {
  constructor(
    readonly peer: PeerId,
    readonly pattern: string,
  ) {
    super(
      'ERR_IPC_PEER_LEFT',
      `Peer ${peer} left before answering '${pattern}'. The request may or may not have run there; retry if it is safe to.`,
    );
  }
}

/**
 * The request was not delivered, so it did not run: the peer is restarting (its process left
 * moments ago, or under PM2 it is an instance of the app that has not joined yet), it is shutting
 * down (retiring), or nobody holds that id. Safe to retry; `send()` without a target retries
 * another peer itself, and a client with `waitForRestart` waits for a restarting peer instead.
 */
export class PeerUnavailableError extends IpcChannelError {
  /**
   * The id is expected back soon: its holder is shutting down or left within graceMs, or under
   * PM2 it is an instance of the app. False when nobody holds it and nobody is expected to.
   */
  readonly restarting: boolean;

  constructor(
    readonly peer: PeerId,
    readonly pattern: string,
    /** The peer exists but is shutting down (a PM2 reload, app.close()). */
    readonly retiring = false,
    /** What the requester knows of the absent id (see IdHistory); undefined: never held. */
    absent?: AbsentId,
  ) {
    super('ERR_IPC_PEER_UNAVAILABLE', unavailableText(peer, pattern, retiring, absent));
    this.restarting = retiring || (absent !== undefined && absent.kind !== 'unknown');
  }
}

const WAIT_HINT = "or set the client's 'waitForRestart' option to have requests wait for it";

function unavailableText(
  peer: PeerId,
  pattern: string,
  retiring: boolean,
  absent: AbsentId | undefined,
): string {
  if (retiring)
    return `Peer ${peer} is shutting down and takes no new requests, so '${pattern}' did not run there. Retry: the process that takes id ${peer} next will answer (${WAIT_HINT}).`;
  if (absent?.kind === 'restarting')
    return `Peer ${peer} is restarting: the process holding id ${peer} left ${absent.leftMsAgo} ms ago and no process has taken the id back yet, so '${pattern}' did not run. Retry shortly, ${WAIT_HINT}.`;
  if (absent?.kind === 'pm2-instance')
    return `Peer ${peer} has not joined yet: it is one of the ${absent.instances} instances of this PM2 app, starting or restarting, so '${pattern}' did not run. Retry shortly, ${WAIT_HINT}.`;
  if (typeof peer === 'string')
    return `No process holds ${peer} as far as this host's view of the other hosts tells, so '${pattern}' was not sent. Check the id against client.peers (remote peers appear there once their host has published its view).`;
  return `No process holds id ${peer}, and none left it within graceMs, so '${pattern}' was not sent. Check the id against client.peers.`;
}

/**
 * No response within the client's `timeout` option. The responder is told to stop. `read` tells
 * where the request was stuck: `true` when the responder had read it (its handler is slow, or
 * its event loop was blocked after reading), `false` when it had not even been read (the
 * responder's event loop, or the hub's, is blocked, or its connection is backed up). For a peer
 * on another host, `read` means the request reached that host's inbox in the shared store.
 */
export class RequestTimeoutError extends IpcChannelError {
  constructor(
    readonly peer: PeerId,
    readonly pattern: string,
    readonly ms: number,
    readonly read: boolean,
    hubId?: number,
    /** The request was waiting for the peer to restart (`waitForRestart`); it did not run. */
    readonly waitedForRestart = false,
  ) {
    const hub =
      typeof peer === 'number' && hubId !== undefined && hubId !== peer
        ? ` (or that of the hub's process, peer ${hubId})`
        : '';
    super(
      'ERR_IPC_REQUEST_TIMEOUT',
      typeof peer === 'string' && !waitedForRestart
        ? remoteTimeoutText(peer, pattern, ms, read)
        : waitedForRestart
          ? `Peer ${peer} did not come back within ${ms} ms: '${pattern}' waited for its restart and was not sent to any process. Retry later, or raise the client's 'timeout' option if restarts take longer.`
          : read
            ? `Peer ${peer} read '${pattern}' but no answer came within ${ms} ms: its handler is slow, or its event loop${hub} is blocked. Raise the client's 'timeout' option if the handler is slow.`
            : `Peer ${peer} had not even read '${pattern}' after ${ms} ms: its event loop${hub} is blocked, or its connection is backed up. It may still run the request when it catches up: keep such handlers idempotent, or raise the client's 'timeout' option.`,
    );
  }
}

/** A request to a peer on another host timed out: where it was stuck, as far as this host knows. */
function remoteTimeoutText(peer: string, pattern: string, ms: number, stored: boolean): string {
  return stored
    ? `Peer ${peer} got '${pattern}' into its host's inbox but no answer came within ${ms} ms: its handler is slow, that host's hub or bridge is behind, or its event loop is blocked. Raise the client's 'timeout' option if the handler is slow.`
    : `'${pattern}' had not even reached the inbox of peer ${peer}'s host after ${ms} ms: this host's bridge cannot reach the shared store, or is backed up. It may still run there once it arrives: keep such handlers idempotent, or raise the client's 'timeout' option.`;
}

/** Nest's rule: a pattern and data are required (same text as Nest's InvalidMessageException). */
export class InvalidMessageError extends IpcChannelError {
  constructor() {
    super('ERR_IPC_INVALID_MESSAGE', 'The invalid data or message pattern (undefined/null)');
  }
}

/**
 * An event no peer it went to handles: each of them has announced its handlers, and none has an
 * `@EventPattern` for this pattern (or a peer that announced nothing did not within graceMs).
 * A plain `emit` logs this as a warning; one with `confirmEvents` errors with it.
 */
export class NoEventHandlerError extends IpcChannelError {
  constructor(
    readonly pattern: string,
    channel: string,
    /** Where the event went: a peer id, `'all'`, `'others'` or `'host'`. */
    readonly target: TargetSpec,
  ) {
    const where =
      target === 'all'
        ? 'every peer'
        : target === 'others'
          ? 'every other peer'
          : target === 'host'
            ? 'every peer of this host'
            : `peer ${String(target)}`;
    super(
      'ERR_IPC_NO_EVENT_HANDLER',
      `No peer of channel '${channel}' handles event '${pattern}': it went to ${where}, and nothing ran for it. Check the pattern, and that the process with its @EventPattern(${JSON.stringify(pattern)}) handler starts an IpcServer on this channel (same name and dir).`,
    );
  }
}
