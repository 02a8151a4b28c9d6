import type { BenchPayload } from '../shared/payload.js';
import type { WorkerBoot } from '../shared/protocol.js';

/** What a receiving endpoint does with traffic; the worker supplies it. */
export interface Handlers {
  /** Produces the response to a request (the bench echoes the payload back). */
  request(p: BenchPayload): BenchPayload;
  /** Counts a one-way event. */
  event(p: BenchPayload): void;
}

/**
 * One process's view of a transport under test. Scenario logic (worker/ops.ts) is written once
 * against this interface; each competitor implements it in its own file.
 */
export interface Endpoint {
  /** Handed to processes started later (a port, a peer id) and checked by the orchestrator. */
  readonly info: Record<string, unknown>;
  /** Resolves once every peer this endpoint talks to is connected and subscribed. */
  sync(): Promise<void>;
  /** One request, resolved with its response. */
  request(p: BenchPayload): Promise<BenchPayload>;
  /**
   * One event to this endpoint's audience (one receiver, or all of them for broadcast).
   * Returns false when the sender should wait for `drained()`, the transport's backpressure.
   */
  emit(p: BenchPayload): boolean;
  drained(): Promise<void>;
  /** Transport-specific state for checks and reports (peer id, hub or not, queued bytes). */
  state?(): Record<string, unknown>;
}

export interface Transport {
  open(boot: WorkerBoot, handlers: Handlers): Promise<Endpoint>;
}

/** For endpoints that only serve: calling a client method on them is a harness bug. */
export function notAClient(what: string): never {
  throw new Error(`this endpoint cannot ${what}: it is not the driving side of the scenario`);
}
