import { InvalidOptionError } from '../../channel/errors.js';
import { type LeadershipOptions, leadership } from './run-on-leader.js';

/** The part of reflect-metadata used here (loaded by Nest; absent, nothing is copied). */
interface MetadataReflect {
  getOwnMetadataKeys?(target: object): unknown[];
  getOwnMetadata?(key: unknown, target: object): unknown;
  defineMetadata?(key: unknown, value: unknown, target: object): void;
}

/**
 * Runs the decorated method only on the process that leads the channel, and skips it
 * (returning undefined) everywhere else: a `@Cron()` or `@Interval()` job of
 * `@nestjs/schedule` then runs once per cluster instead of once per worker.
 *
 * ```ts
 * @Interval(60_000)
 * @LeaderOnly()
 * warmCache() { ... }
 * ```
 *
 * Either decorator order works: the method's Nest metadata moves to the wrapper. The check is
 * made on each call, so a job follows leadership as it moves. Skipped while no IpcServer or
 * IpcClient of the process has joined. A process with several channels names the one that
 * decides: `@LeaderOnly({ channel: 'orders' })`.
 */
export function LeaderOnly(options: LeadershipOptions = {}): MethodDecorator {
  return (target, key, descriptor) => {
    const original = descriptor.value as unknown;
    if (typeof original !== 'function') {
      throw new InvalidOptionError(
        `@LeaderOnly() decorates methods; ${String(key)} of ${target.constructor?.name ?? 'an object'} is not one.`,
      );
    }
    const method = original as (...args: unknown[]) => unknown;
    const leaderOnly = function (this: unknown, ...args: unknown[]): unknown {
      return leadership(options).isLeader ? method.apply(this, args) : undefined;
    };
    // Decorators below this one (applied first) attached their metadata to the original.
    copyMetadata(method, leaderOnly);
    Object.defineProperty(leaderOnly, 'name', { value: method.name });
    descriptor.value = leaderOnly as typeof descriptor.value;
    return descriptor;
  };
}

function copyMetadata(from: object, to: object): void {
  const reflect = Reflect as unknown as MetadataReflect;
  if (reflect.getOwnMetadataKeys === undefined) return;
  for (const key of reflect.getOwnMetadataKeys(from)) {
    reflect.defineMetadata!(key, reflect.getOwnMetadata!(key, from), to);
  }
}
