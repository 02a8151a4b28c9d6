import { pathToFileURL } from 'node:url';
import type { ClientProxy, CustomTransportStrategy } from '@nestjs/microservices';
import { type Observable, firstValueFrom } from 'rxjs';
import type { BenchPayload } from '../shared/payload.js';
import { PACKAGE_ENTRY } from '../shared/paths.js';
import type { WorkerBoot } from '../shared/protocol.js';
import type { ChannelOptions, PeerId } from './channel.js';
import { EVENT_PATTERN, REQUEST_PATTERN, startMicroservice } from './nest-app.js';
import type { TracingMode } from './tracing-setup.js';
import type { Endpoint, Handlers, Transport } from './types.js';

/**
 * The slice of the package's Nest API the bench drives, loaded from dist/ at run time (as the
 * channel rows do) so the bench type-checks without a build.
 */
interface ChannelView {
  readonly id: number | undefined;
  readonly isHub: boolean;
  readonly peers: PeerId[];
  readonly pendingBytes: number;
}
interface IpcTargetLike {
  send<R>(pattern: string, data: unknown): Observable<R>;
  emit(pattern: string, data: unknown): Observable<undefined>;
}
interface IpcClientLike extends ClientProxy {
  to(target: PeerId | 'others'): IpcTargetLike;
  unwrap<T>(): T;
}
interface Lib {
  IpcServer: new (options: object) => CustomTransportStrategy & { unwrap<T>(): T };
  IpcClient: new (options: object) => IpcClientLike;
}

async function loadLib(): Promise<Lib> {
  const lib = (await import(pathToFileURL(PACKAGE_ENTRY).href)) as Partial<Lib>;
  if (typeof lib.IpcServer !== 'function' || typeof lib.IpcClient !== 'function') {
    throw new Error(`${PACKAGE_ENTRY} does not export IpcServer/IpcClient: run 'npm run build'`);
  }
  return lib as Lib;
}

async function open(boot: WorkerBoot, handlers: Handlers): Promise<Endpoint> {
  const o = boot.spec.options as unknown as ChannelOptions & { tracing?: TracingMode };
  if (o.tracing !== undefined) await (await import('./tracing-setup.js')).setUpTracing(o.tracing);
  const { IpcServer, IpcClient } = await loadLib();
  const options = {
    name: o.name,
    dir: boot.dir,
    id: o.id,
    ...(o.directLinks === undefined ? {} : { directLinks: o.directLinks }),
  };
  const server = new IpcServer(options);
  await startMicroservice({ strategy: server }, handlers);
  const channel = server.unwrap<ChannelView>();
  if (channel.isHub !== o.expectHub) {
    throw new Error(
      `peer ${o.id} ${channel.isHub ? 'hosts' : 'does not host'} the hub, but the topology needs the opposite`,
    );
  }
  const sync = async () => {
    while (!o.expectPeers.every((id) => channel.peers.includes(id))) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const state = () => ({
    id: channel.id,
    isHub: channel.isHub,
    peers: channel.peers,
    pendingBytes: channel.pendingBytes,
  });
  if (o.target === undefined) {
    return {
      info: { id: channel.id, isHub: channel.isHub },
      sync,
      request: () => Promise.reject(new Error('this worker only serves')),
      emit: () => {
        throw new Error('this worker only receives');
      },
      drained: async () => {},
      state,
    };
  }

  const client = new IpcClient(options);
  await client.connect();
  const out = client.to(o.target);
  // IpcClient's emit Observable completes at once when the event is accepted, or after the
  // channel's 'drain' when the sender is over its high-water mark: its own backpressure.
  let wait: Promise<void> | undefined;
  return {
    info: { id: channel.id, isHub: channel.isHub },
    sync,
    request: (p) => firstValueFrom(out.send<BenchPayload>(REQUEST_PATTERN, p)),
    emit(p) {
      let done = false;
      let failed: unknown;
      let settle: { resolve(): void; reject(e: unknown): void } | undefined;
      out.emit(EVENT_PATTERN, p).subscribe({
        complete: () => {
          done = true;
          settle?.resolve();
        },
        error: (e: unknown) => {
          failed = e;
          settle?.reject(e);
        },
      });
      if (failed !== undefined) throw failed;
      if (done) return true;
      // Over the high-water mark: only now is a Promise worth making.
      wait = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      return false;
    },
    async drained() {
      const w = wait;
      wait = undefined;
      await w;
    },
    state,
  };
}

export const nestIpcTransport: Transport = { open };
