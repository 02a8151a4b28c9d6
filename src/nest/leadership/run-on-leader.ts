import { findSharedChannel } from '../shared/channel-registry.js';

/** Which channel decides leadership; needed only in a process that uses several. */
export interface LeadershipOptions {
  /** The channel name (as given to IpcServer / IpcClient, or the default one). */
  channel?: string;
}

/** Whether this process leads, and the epoch of the current leadership. */
export interface IpcLeadershipState {
  /** True only on the one process that leads the channel right now. */
  readonly isLeader: boolean;
  /** The leadership epoch (0 before joining): greater for every later leader. */
  readonly epoch: number;
}

/**
 * This process's leadership of a channel, read now. Not leader while no IpcServer or IpcClient
 * of the process has joined the channel.
 */
export function leadership(options: LeadershipOptions = {}): IpcLeadershipState {
  const channel = findSharedChannel(options.channel)?.channel;
  if (channel === undefined) return { isLeader: false, epoch: 0 };
  return { isLeader: channel.isLeader, epoch: channel.epoch };
}

/**
 * Runs `fn` only if this process leads the channel, with the epoch as a fencing token, and
 * returns what it returns; elsewhere it does nothing and returns undefined.
 *
 * ```ts
 * await runOnLeader((epoch) => this.reports.sendDaily(epoch));
 * ```
 */
export function runOnLeader<T>(
  fn: (epoch: number) => T,
  options: LeadershipOptions = {},
): T | undefined {
  const now = leadership(options);
  return now.isLeader ? fn(now.epoch) : undefined;
}
