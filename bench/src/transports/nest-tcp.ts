import type { AddressInfo, Server, Socket } from 'node:net';
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import type { WorkerBoot } from '../shared/protocol.js';
import { startMicroservice } from './nest-app.js';
import { nestClientEndpoint, nestServerEndpoint } from './nest-client.js';
import type { Endpoint, Handlers, Transport as BenchTransport } from './types.js';

/**
 * Nest's built-in TCP transport (loopback). A server is a real microservice app; the client
 * holds one ClientProxy per server. Nest TCP has no broker, so broadcast means emitting on
 * each proxy. Backpressure: ClientTCP writes without looking at write()'s result, so the
 * sender watches the proxies' sockets and waits for 'drain' when one is over its high-water mark.
 */
export interface NestTcpOptions {
  /** Client only: the ports of the servers to talk to. */
  ports?: number[];
}

const HOST = '127.0.0.1';

async function open(boot: WorkerBoot, handlers: Handlers): Promise<Endpoint> {
  const o = boot.spec.options as NestTcpOptions;
  if (o.ports === undefined) {
    const app = await startMicroservice(
      { transport: Transport.TCP, options: { host: HOST, port: 0 } },
      handlers,
    );
    const { port } = app.unwrap<Server>().address() as AddressInfo;
    return nestServerEndpoint({ port });
  }

  const proxies = o.ports.map((port) =>
    ClientProxyFactory.create({ transport: Transport.TCP, options: { host: HOST, port } }),
  );
  await Promise.all(proxies.map((p) => p.connect()));
  const sockets = proxies.map((p) => p.unwrap<Socket>());
  return nestClientEndpoint({
    proxies,
    sync: async () => {},
    blocked() {
      let waits: Promise<void>[] | undefined;
      for (const s of sockets) {
        if (s.writableNeedDrain) (waits ??= []).push(new Promise((r) => s.once('drain', r)));
      }
      return waits;
    },
  });
}

export const nestTcpTransport: BenchTransport = { open };
