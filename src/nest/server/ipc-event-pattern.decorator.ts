import { EventPattern, type Transport } from '@nestjs/microservices';

/** A pattern as `@EventPattern` takes it: a string, or an object (normalized to JSON). */
export type IpcPattern = string | Record<string, unknown>;

/**
 * `@EventPattern` typed for strict TypeScript. Nest 12 types `@EventPattern('name')` as a
 * decorator for methods whose parameters after the payload are `unknown`; under
 * `strictFunctionTypes` (part of `strict`) a handler with `@Ctx() ctx: IpcContext` is then
 * rejected with TS1241. This one is a plain `MethodDecorator` and registers exactly what
 * `@EventPattern` does.
 *
 * ```ts
 * @IpcEventPattern('cache.invalidate')
 * drop(@Payload() key: string, @Ctx() ctx: IpcContext) {}
 * ```
 */
export function IpcEventPattern(
  pattern: IpcPattern,
  extras?: Record<string, unknown>,
): MethodDecorator;
/** Bound to one transport in a hybrid app, e.g. `@IpcEventPattern('x', IPC_TRANSPORT)`. */
export function IpcEventPattern(
  pattern: IpcPattern,
  transport: Transport | symbol,
  extras?: Record<string, unknown>,
): MethodDecorator;
export function IpcEventPattern(
  pattern: IpcPattern,
  transportOrExtras?: Transport | symbol | Record<string, unknown>,
  extras?: Record<string, unknown>,
): MethodDecorator {
  const register = EventPattern as (
    pattern: IpcPattern,
    transportOrExtras?: unknown,
    extras?: Record<string, unknown>,
  ) => MethodDecorator;
  return register(pattern, transportOrExtras, extras);
}
