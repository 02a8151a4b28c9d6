import { hostname } from 'node:os';
import type { ChannelOptions, FederationOptions } from '../../channel/channel-options.js';
import { shownValue } from '../../channel/errors.js';

/** The defaults the channel applies to a `federation` option (see FederationOptions). */
const DEFAULTS = { leaseMs: 5000, hostTimeoutMs: 5000, prefix: 'ipc' } as const;

/** Keys of Redis connection options whose values are credentials or key material. */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password',
  'passphrase',
  'secret',
  'token',
  'key',
  'cert',
  'pfx',
  'ca',
]);

/** Each custom adapter factory's number, so that two users compare the same factory equal. */
const adapterIds = new WeakMap<object, number>();
let nextAdapterId = 1;

/**
 * `federation` with the channel's defaults applied, as text for comparing two users' options:
 * `undefined` and `{ host: os.hostname() }` with Redis alike agree. It holds passwords as they
 * are: compare it, never show it (see shownFederation).
 */
export function federationKey(federation: FederationOptions | undefined): string {
  if (federation === undefined) return 'not set';
  return JSON.stringify([
    federation.host ?? hostname(),
    federation.redis === undefined ? null : sorted(federation.redis),
    federation.adapter === undefined ? null : adapterId(federation.adapter),
    federation.leaseMs ?? DEFAULTS.leaseMs,
    federation.hostTimeoutMs ?? DEFAULTS.hostTimeoutMs,
    federation.prefix ?? DEFAULTS.prefix,
  ]);
}

/**
 * Whether two users' options may be one process's view of one host. Two hosts of a federated
 * channel may run in one process (a test, a demo): their channels share a name but are not
 * one channel, and their options need not agree.
 */
export function sameHost(a: ChannelOptions, b: ChannelOptions): boolean {
  if (a.federation === undefined || b.federation === undefined) return true;
  return (a.federation.host ?? hostname()) === (b.federation.host ?? hostname());
}

/**
 * `federation` as a reader of an error message should see it: credentials in a Redis URL or in
 * Redis options show only as set.
 */
export function shownFederation(federation: FederationOptions | undefined): string {
  if (federation === undefined) return 'not set';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(federation)) {
    if (value === undefined) continue;
    if (key === 'redis') parts.push(`redis: ${shownRedis(value as FederationOptions['redis'])}`);
    else if (key === 'adapter') parts.push('adapter: (a custom adapter)');
    else parts.push(`${key}: ${shownValue(value)}`);
  }
  return `{ ${parts.join(', ')} }`;
}

function shownRedis(redis: FederationOptions['redis']): string {
  if (typeof redis === 'string') return shownValue(withoutPassword(redis));
  return shownValue(masked(redis));
}

/** A Redis URL with its password, if any, replaced by `(set)`. */
function withoutPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):([^@/]*)@/i, '$1$2:(set)@');
}

/** Redis options with every credential shown as `(set)`, at any depth (tls: { key, cert }). */
function masked(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map(masked);
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.has(k) ? '(set)' : masked(v)]),
  );
}

/** `value` with object keys in order, so that `{ a, b }` and `{ b, a }` compare equal. */
function sorted(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(sorted);
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, sorted(v)]));
}

function adapterId(factory: object): number {
  let id = adapterIds.get(factory);
  if (id === undefined) adapterIds.set(factory, (id = nextAdapterId++));
  return id;
}
