import { Channel } from '../../channel/channel.js';
import { type ChannelOptions, resolveOptions } from '../../channel/channel-options.js';
import { InvalidOptionError } from '../../channel/errors.js';
import { sameHost } from './federation-agreement.js';
import { givesChannelOptions, optionDifferences, shownOptions } from './options-agreement.js';
import { IpcOptionsMismatchError } from './options-mismatch.error.js';
import { SharedChannel } from './shared-channel.js';

/** Who uses a shared channel; named in error messages. */
export type ChannelUser = 'IpcServer' | 'IpcClient';

/** One shared channel and how many IpcServers and IpcClients of the process use it. */
interface Entry {
  readonly shared: SharedChannel;
  /** The options it was made with; every later user must agree with them. */
  readonly options: ChannelOptions;
  /** The first user, named when a later one disagrees. */
  readonly user: ChannelUser;
  /** Made with the defaults by an IpcClient that was given no channel options. */
  readonly implicit: boolean;
  refs: number;
  servers: number;
}

/** This process's shared channels, by endpoint. */
const entries = new Map<string, Entry>();

/** An IpcServer or IpcClient that exists and is not closed, with the channel options it was given. */
interface Declared {
  readonly user: ChannelUser;
  readonly options: ChannelOptions;
  readonly name: string;
}

/**
 * The IpcServers and IpcClients of this process that exist and are not closed. Two of them that
 * name one channel with options that disagree fail as soon as the second is made (at startup),
 * not at its first send; an IpcClient without options uses the IpcServer's even before that
 * server has joined.
 */
const declared = new Map<object, Declared>();

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
 * `owner`, an IpcServer or IpcClient, exists with these channel options (until
 * withdrawChannelUser). Throws IpcOptionsMismatchError when another one of this process names
 * the same channel with options that disagree. An IpcClient without channel options declares
 * nothing: it takes the IpcServer's.
 */
export function declareChannelUser(
  owner: object,
  user: ChannelUser,
  options: ChannelOptions,
): void {
  if (user === 'IpcClient' && !givesChannelOptions(options)) return;
  let name: string;
  try {
    name = resolveOptions(options).name;
  } catch {
    return; // options the channel cannot work with fail at first use, with the channel's error
  }
  for (const [other, d] of declared) {
    if (other === owner || d.name !== name || !sameHost(d.options, options)) continue;
    const differences = optionDifferences(d.options, options);
    if (differences.length > 0) {
      throw new IpcOptionsMismatchError([d.user, user], differences, [
        shownOptions(d.options),
        shownOptions(options),
      ]);
    }
  }
  declared.set(owner, { user, options, name });
}

/** `owner` closed: its options no longer bind anyone. */
export function withdrawChannelUser(owner: object): void {
  declared.delete(owner);
}

/**
 * The shared channel for these options, created on first use; every call must be matched by a
 * releaseSharedChannel. An IpcClient given no channel options takes its process's IpcServer's.
 * Options that disagree with those of a user already on the channel throw
 * IpcOptionsMismatchError: both would otherwise join, and one of them not the way it was told.
 */
export function acquireSharedChannel(
  options: ChannelOptions,
  user: ChannelUser = 'IpcClient',
): SharedChannel {
  const implicit = user === 'IpcClient' && !givesChannelOptions(options);
  const chosen = implicit ? (serverOptions() ?? options) : options;
  const channel = new Channel(chosen);
  let entry = entries.get(channel.endpoint);
  if (entry !== undefined) {
    if (!implicit) agree(entry, chosen, user);
  } else {
    for (const other of entries.values()) conflicts(other, channel, chosen, user);
    entry = {
      shared: new SharedChannel(channel, chosen.graceMs ?? 5000),
      options: chosen,
      user,
      implicit: implicit && chosen === options,
      refs: 0,
      servers: 0,
    };
    entries.set(channel.endpoint, entry);
  }
  entry.refs++;
  if (user === 'IpcServer') entry.servers++;
  return entry.shared;
}

/** Drops one user of `shared`; the last one closes it gracefully. */
export async function releaseSharedChannel(
  shared: SharedChannel,
  user: ChannelUser = 'IpcClient',
): Promise<void> {
  const endpoint = shared.channel.endpoint;
  const entry = entries.get(endpoint);
  if (entry?.shared === shared) {
    if (user === 'IpcServer') entry.servers--;
    if (--entry.refs > 0) return;
    entries.delete(endpoint);
  }
  await shared.close();
}

/**
 * The options of this process's IpcServer: the one on a channel, else one that exists but has
 * not joined yet. Undefined when there is none; several that disagree must be told apart.
 */
function serverOptions(): ChannelOptions | undefined {
  const candidates = new Map<string, ChannelOptions>();
  for (const e of entries.values())
    if (e.servers > 0) candidates.set(e.shared.channel.name, e.options);
  if (candidates.size === 0) {
    for (const d of declared.values())
      if (d.user === 'IpcServer') candidates.set(d.name, d.options);
  }
  if (candidates.size > 1) {
    const names = [...candidates.keys()].map((n) => `'${n}'`).join(', ');
    throw new InvalidOptionError(
      `An IpcClient without channel options uses its process's IpcServer's channel, but this process has IpcServers on several (${names}): give the IpcClient a name option.`,
    );
  }
  return candidates.values().next().value;
}

/** A later user of the same channel must have asked for what the first one set it up with. */
function agree(entry: Entry, options: ChannelOptions, user: ChannelUser): void {
  const differences = optionDifferences(entry.options, options);
  if (differences.length > 0) {
    throw new IpcOptionsMismatchError([entry.user, user], differences, [
      shownOptions(entry.options),
      shownOptions(options),
    ]);
  }
}

/**
 * Two channels in one process are allowed when they have different names (a client may talk to
 * another app's channel), or are two hosts of one federated channel. The same name on another endpoint (dir, transport), or an IpcServer
 * beside a client that took the defaults only for want of options, is a mistake.
 */
function conflicts(entry: Entry, channel: Channel, options: ChannelOptions, user: ChannelUser) {
  if (!sameHost(entry.options, options)) return;
  const sameName = entry.shared.channel.name === channel.name;
  if (!sameName && !(entry.implicit && user === 'IpcServer')) return;
  throw new IpcOptionsMismatchError([entry.user, user], optionDifferences(entry.options, options), [
    entry.implicit
      ? 'no channel options (it joined before any IpcServer existed, so it took the defaults)'
      : shownOptions(entry.options),
    shownOptions(options),
  ]);
}
