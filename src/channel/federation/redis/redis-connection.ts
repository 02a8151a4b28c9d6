import { Redis, type RedisOptions } from 'ioredis';
import { RedisStoreError } from './redis-store-error.js';

/** What each of the adapter's two connections is for. */
export type ConnectionRole = 'commands' | 'reader';

/**
 * Reconnects quickly after a restart or a failover of Redis (50 ms, doubling up to 1 s), since
 * a host's remote traffic waits meanwhile. The user's own retryStrategy wins.
 */
function retryDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times - 1, 5), 1000);
}

/**
 * Reconnects a command may wait through before it fails (about 1.5 s with retryDelay): long
 * enough for a restart of Redis, short enough that an outage is reported (the bridge retries
 * what failed). The user's own maxRetriesPerRequest wins.
 */
const MAX_RETRIES_PER_REQUEST = 5;

/**
 * A lazily connected ioredis client for `redis` (a URL or ioredis options, passed through:
 * username, password, tls, db...), with only what the adapter relies on overridden:
 * - commands: calls made or in flight while the connection is down wait for a reconnect and are
 *   sent (again) after it, in order, so appends for one host stay ordered (a resent XADD may
 *   store a batch twice: receivers drop the copy by origin). Calls made meanwhile fail after
 *   MAX_RETRIES_PER_REQUEST reconnects.
 * - reader: the blocking XREADGROUP fails at once when the connection drops, never resent, so
 *   that the reader re-reads its pending entries first and keeps the inbox's order; no command
 *   or socket timeout applies to it.
 */
export function createConnection(
  redis: string | Record<string, unknown>,
  role: ConnectionRole,
  name: string,
): Redis {
  const must: RedisOptions =
    role === 'commands'
      ? {
          lazyConnect: true,
          enableOfflineQueue: true,
          autoResendUnfulfilledCommands: true,
        }
      : {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          autoResendUnfulfilledCommands: false,
          // A blocked read receives nothing for up to its block time, by design: neither may
          // cut it short (socketTimeout would even drop the connection each time).
          commandTimeout: undefined,
          socketTimeout: undefined,
        };
  const defaults: RedisOptions = {
    retryStrategy: retryDelay,
    connectionName: name,
    ...(role === 'commands' ? { maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST } : {}),
  };
  if (typeof redis === 'string') return new Redis(redis, { ...defaults, ...must });
  if (typeof redis === 'object' && redis !== null && !Array.isArray(redis))
    return new Redis({ ...defaults, ...(redis as RedisOptions), ...must });
  throw new RedisStoreError(
    `federation.redis must be a Redis URL ('redis://host:6379', 'rediss://' for TLS) or ioredis options ({ host, port, password, tls, db }), not ${typeof redis}.`,
  );
}

/**
 * Resolves once `redis` is ready (connecting it if it is not), or rejects with a
 * RedisStoreError for what a reconnect will not cure (refused credentials, a bad database
 * index, a rejected certificate); then the client stops reconnecting. Other errors (refused
 * connection, timeouts, Redis loading) are waited out.
 */
export function untilReady(redis: Redis, closed: () => Error | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      redis.off('ready', onReady);
      redis.off('error', onError);
      redis.off('end', onEnd);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onReady = (): void => done();
    const onError = (e: Error): void => {
      const fatal = fatalError(e, redis.options.db);
      if (fatal === undefined) return;
      done(fatal);
      redis.disconnect();
    };
    const onEnd = (): void => {
      const reason = closed();
      if (reason !== undefined) done(reason);
    };
    redis.on('ready', onReady);
    redis.on('error', onError);
    redis.on('end', onEnd);
    if (redis.status === 'ready') done();
    else if (redis.status === 'wait' || redis.status === 'end') redis.connect().catch(() => {});
  });
}

/** The RedisStoreError for an error no reconnect cures, undefined for the others. */
export function fatalError(e: Error, db?: number): RedisStoreError | undefined {
  const text = `${e.message} ${(e as { code?: unknown }).code ?? ''}`;
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password|NOPERM/i.test(text))
    return new RedisStoreError(
      `Redis refused the federation's credentials (${e.message}). Check the password and username in federation.redis (the URL's 'redis://user:password@host' or the { username, password } options) and the server's ACL.`,
      { cause: e },
    );
  if (/DB index is out of range|invalid DB index/i.test(text))
    return new RedisStoreError(
      `Redis has no database ${db ?? ''} (${e.message}). Set federation.redis's db (or the URL's '/<db>') to one the server has (databases in redis.conf).`,
      { cause: e },
    );
  if (
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|wrong version number|Hostname\/IP does not match/i.test(
      text,
    )
  )
    return new RedisStoreError(
      `The TLS connection to Redis failed (${e.message}). Check federation.redis's tls options (ca, servername) or use 'redis://' for a server without TLS.`,
      { cause: e },
    );
  return undefined;
}

/** Rejects unless the server has what the adapter uses: Redis 6.2+ (XTRIM MINID). */
export async function checkVersion(redis: Redis): Promise<void> {
  let info: string;
  try {
    info = String(await redis.call('INFO', 'server'));
  } catch (e) {
    if (isConnectionError(e)) throw e;
    return; // INFO denied (an ACL, a managed service): try the server as it is
  }
  const version = /redis_version:(\d+)\.(\d+)/.exec(info);
  if (version === null) return; // a compatible server that does not say: try it
  const [major, minor] = [Number(version[1]), Number(version[2])];
  if (major > 6 || (major === 6 && minor >= 2)) return;
  throw new RedisStoreError(
    `Federation needs Redis 6.2 or newer (streams with XTRIM MINID); this server is ${major}.${minor}. Upgrade it.`,
  );
}

/** True for an error of the connection (closed, reset, not ready), false for a reply of Redis. */
export function isConnectionError(e: unknown): boolean {
  return !(e instanceof Error && e.name === 'ReplyError');
}
