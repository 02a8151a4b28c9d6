import type { ClientProxy } from '@nestjs/microservices';
import { type Observable, firstValueFrom } from 'rxjs';
import type { BenchPayload } from '../shared/payload.js';
import { EVENT_PATTERN, REQUEST_PATTERN } from './nest-app.js';
import type { Endpoint } from './types.js';

/**
 * The driving side of a Nest competitor: ClientProxy.send for requests, ClientProxy.emit for
 * events (broadcast = emit on one proxy per server, unless the broker fans out itself).
 * `blocked` is the transport's own backpressure signal, which ClientProxy does not surface.
 */
export interface NestDriver {
  proxies: ClientProxy[];
  /** Called after emits are dispatched: whether the sender should wait, and for what. */
  blocked(): Promise<void>[] | undefined;
  /** Sees each emit's observable, for transports whose backpressure is its completion. */
  emitted?(done: Observable<unknown>): void;
  sync(): Promise<void>;
  info?: Record<string, unknown>;
}

export function nestClientEndpoint(d: NestDriver): Endpoint {
  const [first] = d.proxies;
  if (first === undefined) throw new Error('a Nest driver needs at least one ClientProxy');
  let waits: Promise<void>[] | undefined;
  return {
    info: d.info ?? {},
    sync: () => d.sync(),
    request: (p) => firstValueFrom(first.send<BenchPayload, BenchPayload>(REQUEST_PATTERN, p)),
    emit(p) {
      // emit() is eager (a connected observable): no subscription is needed for it to go out.
      for (let i = 0; i < d.proxies.length; i++) {
        const done = d.proxies[i]!.emit(EVENT_PATTERN, p);
        d.emitted?.(done);
      }
      waits = d.blocked();
      return waits === undefined;
    },
    async drained() {
      const w = waits;
      waits = undefined;
      if (w !== undefined) await Promise.all(w);
    },
  };
}

/** For the serving side: it neither requests nor emits. */
export function nestServerEndpoint(info: Record<string, unknown>): Endpoint {
  return {
    info,
    sync: async () => {},
    request: () => Promise.reject(new Error('a Nest microservice only serves here')),
    emit: () => {
      throw new Error('a Nest microservice only receives here');
    },
    drained: async () => {},
  };
}
