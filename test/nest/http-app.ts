/**
 * A real HTTP Nest app in the test process for the health and HTTP error suites: Terminus'
 * /health with IpcHealthIndicator, routes that call peers over the channel, and
 * IpcExceptionFilter as a global filter (through APP_FILTER, with Retry-After set to 2 s).
 * Workers are nest-worker.js processes.
 */
import 'reflect-metadata';
import { Controller, Get, Inject, type INestApplication, Module, Query } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { ClientsModule, MessagePattern, Payload } from '@nestjs/microservices';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import {
  IPC_EXCEPTION_FILTER_OPTIONS,
  IpcClient,
  IpcExceptionFilter,
  IpcServer,
} from '../../src/index.js';
import { IpcHealthIndicator } from '../../src/terminus/index.js';
import { Proc } from '../helpers/processes.js';

export interface HttpReply {
  status: number;
  retryAfter: string | null;
  body: unknown;
}

/** A real HTTP GET against the app. */
export async function get(app: INestApplication, path: string): Promise<HttpReply> {
  const { port } = app.getHttpServer().address() as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

function target(to: string): number | string {
  return /^\d+$/.test(to) ? Number(to) : to;
}

@Controller()
class CallsController {
  constructor(
    @Inject('IPC') private readonly ipc: IpcClient,
    private readonly health: HealthCheckService,
    private readonly indicator: IpcHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check(
    @Query('maxQueuedBytes') max?: string,
    @Query('channel') channel?: string,
    @Query('maxElectionMs') maxElectionMs?: string,
  ) {
    const options = {
      ...(maxElectionMs === undefined ? {} : { maxElectionMs: Number(maxElectionMs) }),
      ...(max === undefined ? {} : { maxQueuedBytes: Number(max) }),
      ...(channel === undefined ? {} : { channel }),
    };
    return this.health.check([() => this.indicator.isHealthy('ipc', options)]);
  }

  /** A request to one peer (`to`: an id, or anything else as given). */
  @Get('call')
  call(@Query('to') to: string, @Query('pattern') pattern: string, @Query('data') data?: string) {
    const payload = data === undefined ? [1, 2] : data === 'null' ? null : JSON.parse(data);
    return firstValueFrom(this.ipc.to(target(to) as number).send(pattern, payload));
  }

  /** A request to any peer that handles `pattern`. */
  @Get('any')
  any(@Query('pattern') pattern: string) {
    return firstValueFrom(this.ipc.send(pattern, [1, 2]));
  }

  /** An event to `to`, which the hub holds while nobody holds that id. */
  @Get('hold')
  hold(@Query('to') to: string, @Query('bytes') bytes: string) {
    this.ipc.to(Number(to)).emit('count', 'x'.repeat(Number(bytes)));
    return { pendingBytes: this.ipc.unwrap().pendingBytes };
  }

  @Get('gather')
  gather(@Query('pattern') pattern: string) {
    return lastValueFrom(this.ipc.to('all').send(pattern, [1, 2]).pipe(toArray()));
  }

  @MessagePattern('sum')
  sum(@Payload() xs: number[]): number {
    return xs.reduce((a, b) => a + b, 0);
  }

  /** A request handler that itself asks peer `to`: its error goes through the app's filters. */
  @MessagePattern('relay')
  relay(@Payload() to: number) {
    return this.ipc.to(to).send('sum', [1, 2]);
  }
}

/** Channel options shared by the app and its workers. */
export function channelOptions(dir: string, extra: Record<string, unknown> = {}) {
  return { name: 'http', dir, graceMs: 3000, ...extra };
}

/**
 * Starts the HTTP app as peer `id` (1 by default: started first, it hosts the hub), joined,
 * listening on a free port.
 */
export async function startApp(
  dir: string,
  clientOptions: Record<string, unknown> = {},
  id = 1,
): Promise<INestApplication> {
  const options = channelOptions(dir, { id });
  @Module({
    imports: [
      TerminusModule,
      ClientsModule.register([
        { name: 'IPC', customClass: IpcClient, options: { ...options, ...clientOptions } },
      ]),
    ],
    controllers: [CallsController],
    providers: [
      IpcHealthIndicator,
      { provide: APP_FILTER, useClass: IpcExceptionFilter },
      { provide: IPC_EXCEPTION_FILTER_OPTIONS, useValue: { retryAfterSeconds: 2 } },
    ],
  })
  class HttpAppModule {}
  const app = await NestFactory.create(HttpAppModule, { logger: false });
  app.connectMicroservice({ strategy: new IpcServer(options) }, { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.listen(0, '127.0.0.1');
  return app;
}

/** A nest-worker.js process holding peer id `id` on the app's channel. */
export function worker(dir: string, id: number): Promise<Proc> {
  return Proc.start('nest-worker.js', {
    WORKER_OPTIONS: JSON.stringify(channelOptions(dir, { id })),
  });
}
