import type { AdapterContext, FederationAdapter } from './federation-adapter.js';
import { FederationDependencyError } from './federation-errors.js';
import type { ResolvedFederationOptions } from './federation-options.js';

/** What ./redis/redis-adapter.js exports. */
interface RedisAdapterModule {
  RedisAdapter: new (
    redis: string | Record<string, unknown>,
    ctx: AdapterContext,
  ) => FederationAdapter;
}

/**
 * Where the Redis adapter lives. Named through a constant so that this module does not depend
 * on it at build time: it (and `ioredis`, an optional dependency) is loaded only when used.
 */
const REDIS_ADAPTER = './redis/redis-adapter.js';

/**
 * Makes the store's adapter for one host. The Redis adapter (and with it `ioredis`) is loaded
 * only when `redis` is set, so a channel without it never needs ioredis.
 */
export async function createAdapter(
  options: ResolvedFederationOptions,
  ctx: AdapterContext,
): Promise<FederationAdapter> {
  if (options.adapter !== undefined) return options.adapter(ctx);
  let mod: RedisAdapterModule;
  try {
    mod = (await import(REDIS_ADAPTER)) as RedisAdapterModule;
  } catch (e) {
    throw new FederationDependencyError(e);
  }
  return new mod.RedisAdapter(options.redis!, ctx);
}
