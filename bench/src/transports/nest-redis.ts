import { ClientProxyFactory, type RedisOptions, Transport } from '@nestjs/microservices';
import type { Redis } from 'ioredis';
import { sleep } from '../shared/clock.js';
import type { WorkerBoot } from '../shared/protocol.js';
import { EVENT_PATTERN, REQUEST_PATTERN, startMicroservice } from './nest-app.js';
import { nestClientEndpoint, nestServerEndpoint } from './nest-client.js';
import type { Endpoint, Handlers, Transport as BenchTransport } from './types.js';

/**
 * Nest's Redis transport against the bench's redis-server on loopback TCP (the one the
 * federated channel rows use).
 * The broker fans out, so broadcast is one emit that every subscribed server receives.
 * Backpressure: an emit completes when Redis has acknowledged the PUBLISH; the sender keeps
 * at most HIGH of them unacknowledged and resumes at LOW.
 */
export interface NestRedisOptions {
  /** The redis-server's port on 127.0.0.1. */
  port: number;
  /** Client only: how many servers must be subscribed before the scenario starts. */
  subscribers?: number;
}

const HIGH = 1024;
const LOW = 512;

async function open(boot: WorkerBoot, handlers: Handlers): Promise<Endpoint> {
  const o = boot.spec.options as unknown as NestRedisOptions;
  const redis: RedisOptions = {
    transport: Transport.REDIS,
    options: { host: '127.0.0.1', port: o.port },
  };
  if (o.subscribers === undefined) {
    await startMicroservice(redis, handlers);
    return nestServerEndpoint({});
  }

  const proxy = ClientProxyFactory.create(redis);
  await proxy.connect();
  const [pub] = proxy.unwrap<[Redis, Redis]>();
  const channel = boot.spec.traffic === 'rr' ? REQUEST_PATTERN : EVENT_PATTERN;
  let outstanding = 0;
  let wake: (() => void) | undefined;
  const settle = () => {
    if (--outstanding <= LOW && wake !== undefined) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  return nestClientEndpoint({
    proxies: [proxy],
    // Servers subscribe after they report ready (Nest does not wait for SUBSCRIBE's reply),
    // and events published before that are lost: wait until Redis counts every subscriber.
    async sync() {
      for (;;) {
        const [, count] = (await pub.pubsub('NUMSUB', channel)) as [string, number];
        if (Number(count) >= o.subscribers!) return;
        await sleep(5);
      }
    },
    emitted(done) {
      outstanding++;
      done.subscribe({ complete: settle, error: settle });
    },
    blocked() {
      if (outstanding < HIGH) return undefined;
      return [new Promise<void>((resolve) => (wake = resolve))];
    },
  });
}

export const nestRedisTransport: BenchTransport = { open };
