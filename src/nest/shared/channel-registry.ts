import { Channel } from '../../channel/channel.js';
import type { ChannelOptions } from '../../channel/channel-options.js';
import { InvalidOptionError } from '../../channel/errors.js';
import { SharedChannel } from './shared-channel.js';

/** One shared channel and how many IpcServers and IpcClients of the process use it. */
interface Entry {
  readonly shared: SharedChannel;
  /** The options that must agree across its users (see acquireSharedChannel). */
  readonly fingerprint: string;
  refs: number;
}

/** This process's shared channels, by endpoint. */
const entries = new Map<string, Entry>();

/**
 * This process's shared channel named `name`; without a name, its only one. Undefined when it
 * has none (nothing joined yet, or everything closed).
 */
export function findSharedChannel(name?: string): SharedChannel | undefined {
  if (name !== undefined) {
    for (const { shared } of entries.values()) if (shared.channel.name === name) return shared;
    return undefined;
  }
  if (entries.size > 1) {
    const names = [...entries.values()].map((e) => `'${e.shared.channel.name}'`).join(', ');
    throw new InvalidOptionError(
      `This process uses several channels (${names}): say which one decides leadership, e.g. @LeaderOnly({ channel: 'orders' }), runOnLeader(fn, { channel: 'orders' }) or IpcLeadership.forChannel('orders').`,
    );
  }
  return entries.values().next().value?.shared;
}

/**
 * The shared channel for these options, created on first use; every call must be matched by a
 * releaseSharedChannel. Options that would make the connection behave differently (id, codec,
 * secret, dir) must agree across users.
 */
export function acquireSharedChannel(options: ChannelOptions): SharedChannel {
  const channel = new Channel(options);
  const fingerprint = JSON.stringify([
    options.id ?? null,
    typeof options.codec === 'object' ? options.codec.name : (options.codec ?? 'json'),
    options.secret === undefined ? null : String(options.secret),
  ]);
  let entry = entries.get(channel.endpoint);
  if (entry !== undefined && entry.fingerprint !== fingerprint) {
    throw new InvalidOptionError(
      `An IpcServer or IpcClient of this process already uses channel '${channel.name}' with another id, codec or secret. Give every IpcServer/IpcClient of one channel the same options.`,
    );
  }
  if (entry === undefined) {
    entry = {
      shared: new SharedChannel(channel, options.graceMs ?? 5000),
      fingerprint,
      refs: 0,
    };
    entries.set(channel.endpoint, entry);
  }
  entry.refs++;
  return entry.shared;
}

/** Drops one user of `shared`; the last one closes it gracefully. */
export async function releaseSharedChannel(shared: SharedChannel): Promise<void> {
  const endpoint = shared.channel.endpoint;
  const entry = entries.get(endpoint);
  if (entry?.shared === shared) {
    if (--entry.refs > 0) return;
    entries.delete(endpoint);
  }
  await shared.close();
}
