import { hostname } from 'node:os';
import type { AdapterContext, FederationAdapter } from './federation-adapter.js';
import { FederationOptionsError } from './federation-errors.js';

/** How a channel reaches the processes of the same app on other hosts. */
export interface FederationOptions {
  /** ioredis URL ('redis://', 'rediss://' for TLS) or ioredis options (host, port, username, password, tls, db...). */
  redis?: string | Record<string, unknown>;
  /** This host's name, unique among the app's hosts; default os.hostname(). 1..64 chars, no '/'. */
  host?: string;
  /** A store other than Redis (see FederationAdapter). Exactly one of redis/adapter. */
  adapter?: (ctx: AdapterContext) => FederationAdapter;
  /** Leadership lease across hosts, ms (default 5000). */
  leaseMs?: number;
  /** A host whose view was not renewed for this long is gone (default 5000; views renew every heartbeatIntervalMs). */
  hostTimeoutMs?: number;
  /** Prefix of every Redis key (default 'ipc'). */
  prefix?: string;
}

/** FederationOptions checked, with their defaults filled in. */
export interface ResolvedFederationOptions {
  readonly host: string;
  readonly prefix: string;
  readonly leaseMs: number;
  readonly hostTimeoutMs: number;
  /** Exactly one of `redis` and `adapter` is set. */
  readonly redis: string | Record<string, unknown> | undefined;
  readonly adapter: ((ctx: AdapterContext) => FederationAdapter) | undefined;
}

const DEFAULT_LEASE_MS = 5000;
const DEFAULT_HOST_TIMEOUT_MS = 5000;
const MIN_LEASE_MS = 500;
const MIN_HOST_TIMEOUT_MS = 100;
const MAX_MS = 10 * 60_000;
const MAX_HOST_CHARS = 64;
const MAX_PREFIX_CHARS = 64;

/**
 * Checks `federation` (undefined: the channel is not federated) and fills in the defaults.
 * Throws FederationOptionsError naming the option and what it must be.
 */
export function resolveFederation(
  options: FederationOptions | undefined,
  channel: string,
): ResolvedFederationOptions | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new FederationOptionsError(
      `Option 'federation' of channel '${channel}' must be an object ({ redis } or { adapter }), got ${shown(options)}.`,
    );
  }
  const { redis, adapter } = options;
  if (redis !== undefined && adapter !== undefined) {
    throw new FederationOptionsError(
      `Option 'federation' of channel '${channel}' has both 'redis' and 'adapter': give exactly one store.`,
    );
  }
  if (redis === undefined && adapter === undefined) {
    throw new FederationOptionsError(
      `Option 'federation' of channel '${channel}' needs a store: 'redis' (a redis:// URL or ioredis options) or 'adapter'.`,
    );
  }
  if (redis !== undefined) checkRedis(redis);
  if (adapter !== undefined && typeof adapter !== 'function') {
    throw new FederationOptionsError(
      `Option 'federation.adapter' must be a function (ctx) => FederationAdapter, got ${shown(adapter)}.`,
    );
  }
  return {
    host: checkHost(options.host),
    prefix: checkPrefix(options.prefix),
    leaseMs: checkMs('leaseMs', options.leaseMs, DEFAULT_LEASE_MS, MIN_LEASE_MS),
    hostTimeoutMs: checkMs(
      'hostTimeoutMs',
      options.hostTimeoutMs,
      DEFAULT_HOST_TIMEOUT_MS,
      MIN_HOST_TIMEOUT_MS,
    ),
    redis,
    adapter,
  };
}

function checkRedis(redis: unknown): void {
  if (typeof redis === 'string') {
    if (/^rediss?:\/\//.test(redis)) return;
    throw new FederationOptionsError(
      `Option 'federation.redis' must be a 'redis://' or 'rediss://' URL, got ${shown(redis)}.`,
    );
  }
  if (typeof redis !== 'object' || redis === null || Array.isArray(redis)) {
    throw new FederationOptionsError(
      `Option 'federation.redis' must be a redis:// URL or an ioredis options object, got ${shown(redis)}.`,
    );
  }
}

function checkHost(host: unknown): string {
  const given = host !== undefined;
  const name = given ? host : hostname();
  const where = given
    ? `Option 'federation.host'`
    : `This machine's hostname (the default of 'federation.host')`;
  if (
    typeof name !== 'string' ||
    name.length < 1 ||
    name.length > MAX_HOST_CHARS ||
    name.includes('/') ||
    Buffer.byteLength(name) > 255
  ) {
    throw new FederationOptionsError(
      `${where} must be 1..${MAX_HOST_CHARS} characters without '/', got ${shown(name)}.${given ? '' : " Set 'federation.host'."}`,
    );
  }
  return name;
}

function checkPrefix(prefix: unknown): string {
  if (prefix === undefined) return 'ipc';
  if (typeof prefix !== 'string' || prefix.length < 1 || prefix.length > MAX_PREFIX_CHARS) {
    throw new FederationOptionsError(
      `Option 'federation.prefix' must be 1..${MAX_PREFIX_CHARS} characters, got ${shown(prefix)}.`,
    );
  }
  return prefix;
}

function checkMs(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > MAX_MS) {
    throw new FederationOptionsError(
      `Option 'federation.${name}' must be an integer number of ms from ${min} to ${MAX_MS}, got ${shown(value)}.`,
    );
  }
  return value as number;
}

function shown(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (a string)`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && value !== null)
    return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
