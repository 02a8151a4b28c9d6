import type { ChannelOptions } from '../../channel/channel-options.js';
import { resolveOptions } from '../../channel/channel-options.js';
import { shownValue } from '../../channel/errors.js';
import { federationKey, shownFederation } from './federation-agreement.js';
import type { OptionDifference } from './options-mismatch.error.js';

/**
 * The options a shared channel takes from its first user. A later user with another value would
 * silently get the first one's, so they must agree. `logger` is left out: two loggers are two
 * objects even when they log alike, and which one logs changes no message.
 */
const COMPARED = [
  'name',
  'dir',
  'transport',
  'id',
  'codec',
  'secret',
  'maxFrameBytes',
  'graceMs',
  'highWaterMark',
  'maxQueueBytes',
  'connectTimeoutMs',
  'closeTimeoutMs',
  'preferredIdWaitMs',
  'maxHeldBytes',
  'directLinks',
  'meta',
  'federation',
] as const;

type Compared = (typeof COMPARED)[number];

/** Every key of ChannelOptions. */
const CHANNEL_KEYS: ReadonlySet<string> = new Set<keyof ChannelOptions>([...COMPARED, 'logger']);

/** Options compared by value but shown otherwise: their compared text holds credentials. */
const SHOWN_APART: Partial<Record<Compared, (o: ChannelOptions) => string>> = {
  federation: (o) => shownFederation(o.federation),
};

/**
 * Only the channel's options, without what belongs to an IpcServer or IpcClient alone
 * (`timeout`, serializers, and any option of theirs to come).
 */
export function pickChannelOptions(options: object): ChannelOptions {
  return Object.fromEntries(
    Object.entries(options).filter(([k, v]) => CHANNEL_KEYS.has(k) && v !== undefined),
  ) as ChannelOptions;
}

/** Whether any channel option is given (an IpcClient without one uses its process's server's). */
export function givesChannelOptions(options: ChannelOptions): boolean {
  return Object.keys(pickChannelOptions(options)).length > 0;
}

/**
 * The options on which `first` and `second` disagree once defaults are applied: `{}` and
 * `{ graceMs: 5000 }` agree. Values are shown as a reader should see them, secrets only as set
 * or not.
 */
export function optionDifferences(
  first: ChannelOptions,
  second: ChannelOptions,
): OptionDifference[] {
  const a = effective(first);
  const b = effective(second);
  const out: OptionDifference[] = [];
  for (const option of COMPARED) {
    if (a[option] === b[option]) continue;
    if (option === 'secret') {
      const both = a.secret !== 'not set' && b.secret !== 'not set';
      out.push({
        option,
        first: both ? 'one secret' : shownSecret(a.secret),
        second: both ? 'another' : shownSecret(b.secret),
      });
      continue;
    }
    const shown = SHOWN_APART[option];
    const given = (o: ChannelOptions, v: string) =>
      o[option] !== undefined ? (shown?.(o) ?? v) : `${v} (default)`;
    let [x, y] = [given(first, a[option]), given(second, b[option])];
    // They differ only in what is never shown (a Redis password, an adapter factory): say so.
    if (x === y) [x, y] = [`${x} (one Redis credential or adapter)`, `${y} (another)`];
    out.push({ option, first: x, second: y });
  }
  return out;
}

/** Options as given, for an error message: `{ name: "orders", secret: (set) }`. */
export function shownOptions(options: ChannelOptions): string {
  const parts = Object.entries(options)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${shownEntry(k, v)}`);
  return parts.length === 0 ? 'no channel options' : `{ ${parts.join(', ')} }`;
}

function shownEntry(key: string, value: unknown): string {
  if (key === 'secret') return '(set)';
  if (key === 'federation') return shownFederation(value as ChannelOptions['federation']);
  return shownOption(value);
}

function shownSecret(compared: string): string {
  return compared === 'not set' ? 'not set' : 'set';
}

function shownOption(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'name' in value) {
    return shownValue((value as { name: unknown }).name); // a codec object
  }
  return shownValue(value);
}

/** Each compared option with its default applied, as text (so equal values compare equal). */
function effective(options: ChannelOptions): Record<Compared, string> {
  const r = resolveOptions(options);
  const codec = options.codec;
  return {
    name: shownValue(r.name),
    dir: r.dir === undefined ? 'the default directory' : shownValue(r.dir),
    transport: shownValue(r.transport),
    id: r.id === undefined ? 'not set' : String(r.id),
    codec: shownValue(typeof codec === 'object' ? codec.name : (codec ?? 'json')),
    // Compared by value; optionDifferences never shows it.
    secret: r.secret === undefined ? 'not set' : r.secret.toString('base64'),
    maxFrameBytes: String(r.maxFrameBytes),
    graceMs: String(r.graceMs),
    highWaterMark: String(r.highWaterMark),
    maxQueueBytes: String(r.maxQueueBytes),
    connectTimeoutMs: String(r.connectTimeoutMs),
    closeTimeoutMs: String(r.closeTimeoutMs),
    preferredIdWaitMs: String(r.preferredIdWaitMs),
    maxHeldBytes: String(r.maxHeldBytes),
    directLinks: String(r.directLinks),
    meta: shownValue(options.meta),
    // Compared with its defaults applied and credentials included; shown by shownFederation.
    federation: federationKey(options.federation),
  };
}
