import type { Channel } from '../channel/channel.js';
import type { PeerId } from '../channel/channel-target.js';

/** Options of `IpcHealthIndicator.isHealthy(key, options)`. */
export interface IpcHealthOptions {
  /**
   * The channel to report on, by name, in a process that uses several; by default the one
   * channel this process's IpcServer and IpcClient share.
   */
  channel?: string;
  /**
   * How long the channel may be without a hub (electing a new one after the hub's process
   * died) before it counts as down, in ms. Elections take milliseconds; a longer gap means
   * the processes cannot agree or reach the socket directory. Default 5000.
   */
  maxElectionMs?: number;
  /**
   * Bytes accepted by send/emit and not yet confirmed (`queuedBytes`) above which the channel
   * counts as down: its receivers do not keep up. Default: the channel's `highWaterMark`, the
   * point where `emit` starts returning false.
   */
  maxQueuedBytes?: number;
}

/** What the indicator reports about a joined channel (besides `status`). */
export interface IpcHealthDetails {
  /** The channel name. */
  channel: string;
  /** This process's peer id. */
  peer: number;
  /** `'hub'` when this process hosts the hub (and so leads), else `'peer'`. */
  role: 'hub' | 'peer';
  /** Every joined peer id, ascending. */
  peers: PeerId[];
  /** The peer id of the leader (the process hosting the hub); null while electing. */
  leader: number | null;
  /** The leadership epoch (a fencing token that rises with every new leader). */
  epoch: number;
  /** Bytes accepted by send/emit and not yet confirmed delivered. */
  queuedBytes: number;
  /** Messages accepted by send/emit and not yet confirmed delivered. */
  unconfirmed: number;
  /** While electing a new hub: for how long, in ms. */
  electingMs?: number;
  /** Why the channel is down (absent when up). */
  message?: string;
}

/** The verdict on a channel, before it is given to Terminus. */
export interface IpcHealthVerdict {
  up: boolean;
  details: IpcHealthDetails | { channel: string | null; message: string };
}

export const DEFAULT_MAX_ELECTION_MS = 5000;

/**
 * When each channel the indicator looked at lost its hub. Listening starts at the first check,
 * so a channel found without a hub then counts from that moment.
 */
const lostHubAt = new WeakMap<Channel, { since: number | undefined }>();

function electionClock(channel: Channel, now: number): { since: number | undefined } {
  let clock = lostHubAt.get(channel);
  if (clock === undefined) {
    const c: { since: number | undefined } = { since: channel.connected ? undefined : now };
    channel.on('disconnect', () => (c.since ??= Date.now()));
    channel.on('connect', () => (c.since = undefined));
    lostHubAt.set(channel, c);
    clock = c;
  }
  return clock;
}

/** The health of `channel` (undefined: this process has no channel of that name). */
export function assessChannel(
  channel: Channel | undefined,
  options: IpcHealthOptions,
  now = Date.now(),
): IpcHealthVerdict {
  if (channel === undefined) {
    const which = options.channel === undefined ? 'a channel' : `channel '${options.channel}'`;
    return {
      up: false,
      details: {
        channel: options.channel ?? null,
        message: `This process has not joined ${which}: start its IpcServer (app.startAllMicroservices()) or use its IpcClient first.`,
      },
    };
  }
  const id = channel.id;
  if (id === undefined) {
    return {
      up: false,
      details: {
        channel: channel.name,
        message: `Joining channel '${channel.name}': not joined yet.`,
      },
    };
  }
  const clock = electionClock(channel, now);
  const details: IpcHealthDetails = {
    channel: channel.name,
    peer: id,
    role: channel.isHub ? 'hub' : 'peer',
    peers: channel.peers,
    leader: channel.connected ? (channel.hubId ?? null) : null,
    epoch: channel.epoch,
    queuedBytes: channel.pendingBytes,
    unconfirmed: channel.pendingMessages,
  };
  if (clock.since !== undefined) details.electingMs = now - clock.since;
  const maxElectionMs = options.maxElectionMs ?? DEFAULT_MAX_ELECTION_MS;
  const maxQueuedBytes = options.maxQueuedBytes ?? channel.highWaterMark;
  if (details.electingMs !== undefined && details.electingMs > maxElectionMs) {
    details.message = `No hub for ${details.electingMs} ms (over maxElectionMs, ${maxElectionMs} ms): the processes cannot elect one. Check that the socket directory is writable and that no process of the channel is stopped or blocked.`;
    return { up: false, details };
  }
  if (details.queuedBytes > maxQueuedBytes) {
    details.message = `${details.queuedBytes} bytes sent are not yet confirmed (over ${maxQueuedBytes}): receivers do not keep up, or messages wait for a peer id nobody holds.`;
    return { up: false, details };
  }
  return { up: true, details };
}
