/**
 * The in-process Nest app the nest-in-process suites share: a controller with patterns for
 * every handler shape, and `boot()`, which starts a microservice with an IpcServer and an
 * IpcClient in a private directory. Importing it registers the per-test setup and cleanup.
 */
import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Controller, type INestMicroservice, Module } from '@nestjs/common';
import {
  ClientsModule,
  Ctx,
  EventPattern,
  MessagePattern,
  Payload,
  Transport,
} from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Observable, of } from 'rxjs';
import { IPC_TRANSPORT, IpcClient, type IpcContext, IpcServer } from '../../src/index.js';
import { tempDir } from '../helpers/processes.js';

export const NO_HANDLER = 'There is no matching message handler defined in the remote service.';

@Controller()
class MathController {
  @MessagePattern('sum')
  sum(@Payload() xs: number[]): number {
    return xs.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('count')
  count(@Payload() n: number) {
    return of(...Array.from({ length: n }, (_, i) => i));
  }

  @MessagePattern('ctx')
  ctx(@Payload() _d: unknown, @Ctx() ctx: unknown) {
    const c = ctx as IpcContext;
    return {
      pattern: c.getPattern(),
      sender: c.getSender(),
      metadata: c.getMetadata(),
      store: store.getStore(),
    };
  }

  @EventPattern('noted')
  async noted(@Payload() n: number): Promise<void> {
    events.push(`noted ${n} ${store.getStore()?.trace ?? 'none'}`);
    await Promise.resolve(); // settles after the next events' handlers have started
  }

  @EventPattern('ticks')
  ticks(@Payload() n: number): Observable<number> {
    // A stream from an event handler runs to its end though no one subscribes to it.
    return new Observable<number>((subscriber) => {
      for (let i = 0; i < n; i++) {
        events.push(`tick ${i}`);
        subscriber.next(i);
      }
      subscriber.complete();
    });
  }

  @EventPattern('fails')
  fails(@Payload() _d: unknown): void {
    events.push('fails');
    throw new Error('event handler failed');
  }

  @MessagePattern('bigint')
  bigint(): bigint {
    return 1n; // JSON cannot carry it
  }

  @MessagePattern('then-bigint')
  thenBigint(): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      subscriber.next(1);
      subscriber.next(2n);
      subscriber.next(3);
      subscriber.complete();
    });
  }

  @MessagePattern('shape')
  shape(@Payload() kind: string): unknown {
    const values: Record<string, unknown> = {
      null: null,
      undefined: undefined,
      function: () => 1,
      zero: 0,
      empty: '',
      nested: { a: [1, { b: null }], c: 'é' },
    };
    return values[kind];
  }

  @MessagePattern('echo-packet')
  echoPacket(@Payload() data: unknown, @Ctx() ctx: unknown): unknown {
    return { data, metadata: (ctx as IpcContext).getMetadata() };
  }

  @MessagePattern('never')
  never(): Promise<never> {
    return new Promise<never>(() => {});
  }

  @MessagePattern('tcp-only', Transport.TCP)
  tcpOnly(): string {
    return 'tcp';
  }

  @MessagePattern('ipc-only', IPC_TRANSPORT)
  ipcOnly(): string {
    return 'ipc';
  }
}

export const store = new AsyncLocalStorage<{ trace: string }>();
export const events: string[] = [];

export let dir: ReturnType<typeof tempDir>;
/** The apps booted by the current test, closed after it (a test that closed one itself empties it). */
export const apps: INestMicroservice[] = [];
beforeEach(() => {
  dir = tempDir();
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  dir.remove();
});

export async function boot(
  serverOptions: Record<string, unknown> = {},
  clientOptions: Record<string, unknown> = {},
) {
  const options = { name: 'inproc', dir: dir.path };
  @Module({
    imports: [
      ClientsModule.register([
        { name: 'IPC', customClass: IpcClient, options: { ...options, ...clientOptions } },
      ]),
    ],
    controllers: [MathController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const server = new IpcServer({ ...options, ...serverOptions });
  const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
  apps.push(app);
  await app.listen();
  const client = app.get<IpcClient>('IPC');
  if (clientOptions.connect !== false) await client.connect();
  return { app, server, client };
}
